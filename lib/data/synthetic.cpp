// Generators for the synthetic problems; the math of each is in synthetic.h.
#include "data/synthetic.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/errors.h"
#include "tensor/rng.h"
#include "core/sha256.h"

namespace normlab {
namespace {


constexpr double kPi = 3.14159265358979323846;

struct Params {
  std::string kind;
  int n, test, dim, classes;
  double noise;
  uint64_t seed;
};

Params resolve(const DataSpec& s) {
  const DataSpec f = with_synthetic_defaults(s);
  return Params{f.name, *f.n, *f.test, *f.dim, *f.classes, *f.noise, *f.seed};
}

// Stream 0: problem structure; 1: train samples; 2: test samples.
void gen_blobs(const Params& p, int count, uint64_t stream, std::vector<float>& x, std::vector<int32_t>& y) {
  Rng st(mix_seed(p.seed, 0));
  const double cscale = 3.0 / std::sqrt(double(p.dim));
  std::vector<double> mu(std::size_t(p.classes) * p.dim);
  for (auto& m : mu) m = cscale * st.normal();
  Rng r(mix_seed(p.seed, stream));
  x.resize(std::size_t(count) * p.dim);
  y.resize(count);
  for (int i = 0; i < count; ++i) {
    const int k = int(r.below(p.classes));
    y[i] = k;
    for (int j = 0; j < p.dim; ++j) x[std::size_t(i) * p.dim + j] = float(mu[k * p.dim + j] + p.noise * r.normal());
  }
}

struct Teacher {
  int dim, hidden = 64, classes;
  std::vector<double> w1, b1, w2, b2;
  void logits(const float* x, double* out) const {
    std::vector<double> h(hidden);
    for (int u = 0; u < hidden; ++u) {
      double a = b1[u];
      for (int j = 0; j < dim; ++j) a += w1[u * dim + j] * x[j];
      h[u] = std::tanh(a);
    }
    for (int k = 0; k < classes; ++k) {
      double a = b2[k];
      for (int u = 0; u < hidden; ++u) a += w2[k * hidden + u] * h[u];
      out[k] = a;
    }
  }
};

Teacher make_teacher(const Params& p) {
  Teacher t;
  t.dim = p.dim;
  t.classes = p.classes;
  Rng st(mix_seed(p.seed, 0));
  t.w1.resize(std::size_t(t.hidden) * p.dim);
  t.b1.resize(t.hidden);
  t.w2.resize(std::size_t(p.classes) * t.hidden);
  t.b2.assign(p.classes, 0.0);
  const double s1 = 2.0 / std::sqrt(double(p.dim)), s2 = 1.0 / std::sqrt(double(t.hidden));
  for (auto& w : t.w1) w = s1 * st.normal();
  for (auto& b : t.b1) b = 0.5 * st.normal();
  for (auto& w : t.w2) w = s2 * st.normal();
  // Center each class's logit over a reference sample so argmax is not dominated by one class.
  const int ref = 4096;
  std::vector<float> x(p.dim);
  std::vector<double> lg(p.classes), mean(p.classes, 0.0);
  for (int i = 0; i < ref; ++i) {
    for (auto& v : x) v = float(st.normal());
    t.logits(x.data(), lg.data());
    for (int k = 0; k < p.classes; ++k) mean[k] += lg[k] / ref;
  }
  for (int k = 0; k < p.classes; ++k) t.b2[k] = -mean[k];
  return t;
}

void gen_teacher(const Params& p, int count, uint64_t stream, std::vector<float>& x, std::vector<int32_t>& y) {
  const Teacher t = make_teacher(p);
  Rng r(mix_seed(p.seed, stream));
  x.resize(std::size_t(count) * p.dim);
  y.resize(count);
  std::vector<double> lg(p.classes);
  for (int i = 0; i < count; ++i) {
    float* xi = x.data() + std::size_t(i) * p.dim;
    for (int j = 0; j < p.dim; ++j) xi[j] = float(r.normal());
    t.logits(xi, lg.data());
    int best = 0;
    for (int k = 0; k < p.classes; ++k) {
      lg[k] += p.noise * r.normal();
      if (lg[k] > lg[best]) best = k;
    }
    y[i] = best;
  }
}

void gen_spirals(const Params& p, int count, uint64_t stream, std::vector<float>& x, std::vector<int32_t>& y) {
  Rng r(mix_seed(p.seed, stream));
  x.resize(std::size_t(count) * p.dim);
  y.resize(count);
  for (int i = 0; i < count; ++i) {
    const int k = int(r.below(p.classes));
    y[i] = k;
    const double t = r.uniform();
    const double a = 2 * kPi * k / p.classes + 3 * kPi * t;
    float* xi = x.data() + std::size_t(i) * p.dim;
    xi[0] = float(t * std::cos(a) + p.noise * r.normal());
    xi[1] = float(t * std::sin(a) + p.noise * r.normal());
    for (int j = 2; j < p.dim; ++j) xi[j] = float(p.noise * r.normal());
  }
}

void gen_images(const Params& p, int count, uint64_t stream, std::vector<float>& x, std::vector<int32_t>& y) {
  constexpr int S = 28, D = S * S, kPool = 16, kPer = 4, kShift = 3;
  // A pool of oriented strokes (anisotropic Gaussians) shared by all classes.
  Rng st(mix_seed(p.seed, 0));
  std::vector<double> pool(std::size_t(kPool) * D);
  for (int b = 0; b < kPool; ++b) {
    const double cy = st.uniform(8, 20), cx = st.uniform(8, 20), th = st.uniform(0, kPi);
    const double sl = st.uniform(2.5, 4.5), sw = st.uniform(0.8, 1.3);
    const double c = std::cos(th), s = std::sin(th);
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < S; ++j) {
        const double u = (i - cy) * c + (j - cx) * s, v = -(i - cy) * s + (j - cx) * c;
        pool[std::size_t(b) * D + i * S + j] = std::exp(-0.5 * (u * u / (sl * sl) + v * v / (sw * sw)));
      }
  }
  // Class k draws kPer distinct strokes from the pool (partial Fisher–Yates).
  std::vector<int> strokes(std::size_t(p.classes) * kPer);
  for (int k = 0; k < p.classes; ++k) {
    int order[kPool];
    for (int b = 0; b < kPool; ++b) order[b] = b;
    for (int b = 0; b < kPer; ++b) std::swap(order[b], order[b + int(st.below(kPool - b))]);
    for (int b = 0; b < kPer; ++b) strokes[k * kPer + b] = order[b];
  }
  Rng r(mix_seed(p.seed, stream));
  x.resize(std::size_t(count) * D);
  y.resize(count);
  std::vector<double> im(D);
  for (int n = 0; n < count; ++n) {
    const int k = int(r.below(p.classes));
    y[n] = k;
    std::fill(im.begin(), im.end(), 0.0);
    for (int b = 0; b < kPer; ++b) {
      const double amp = r.uniform(0.6, 1.0);
      const double* src = pool.data() + std::size_t(strokes[k * kPer + b]) * D;
      for (int q = 0; q < D; ++q) im[q] = std::max(im[q], amp * src[q]);
    }
    const int dy = int(r.below(2 * kShift + 1)) - kShift, dx = int(r.below(2 * kShift + 1)) - kShift;
    float* xo = x.data() + std::size_t(n) * D;
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < S; ++j) {
        const int si = i - dy, sj = j - dx;
        const double base = (si >= 0 && si < S && sj >= 0 && sj < S) ? im[si * S + sj] : 0.0;
        xo[i * S + j] = float(std::clamp(base + p.noise * r.normal(), 0.0, 1.0));
      }
  }
}

}  // namespace

DataSpec with_synthetic_defaults(const DataSpec& spec) {
  DataSpec s = spec;
  struct D { int n, test, dim, classes; double noise; };
  D d{};
  if (s.name == "blobs") d = {2000, 1000, 20, 4, 1.0};
  else if (s.name == "teacher") d = {4000, 2000, 20, 4, 0.0};
  else if (s.name == "spirals") d = {3000, 1500, 2, 3, 0.05};
  else if (s.name == "synthetic-images") d = {6000, 2000, 784, 10, 0.2};
  else throw ConfigError("dataset '" + spec.canonical() + "' is not a generated dataset");
  if (!s.n) s.n = d.n;
  if (!s.test) s.test = d.test;
  if (!s.dim) s.dim = d.dim;
  if (!s.classes) s.classes = d.classes;
  if (!s.noise) s.noise = d.noise;
  if (!s.seed) s.seed = 0;
  return s;
}

Dataset make_synthetic(const DataSpec& spec) {
  const Params p = resolve(spec);
  auto gen = [&](int count, uint64_t stream, std::vector<float>& x, std::vector<int32_t>& y) {
    if (p.kind == "blobs") gen_blobs(p, count, stream, x, y);
    else if (p.kind == "teacher") gen_teacher(p, count, stream, x, y);
    else if (p.kind == "spirals") gen_spirals(p, count, stream, x, y);
    else gen_images(p, count, stream, x, y);
  };
  std::vector<float> xtr, xte;
  std::vector<int32_t> ytr, yte;
  gen(p.n, 1, xtr, ytr);
  gen(p.test, 2, xte, yte);

  Sha256 h;
  h.update(xtr.data(), xtr.size() * sizeof(float));
  h.update(ytr.data(), ytr.size() * sizeof(int32_t));
  h.update(xte.data(), xte.size() * sizeof(float));
  h.update(yte.data(), yte.size() * sizeof(int32_t));

  Dataset d;
  d.shape = p.kind == "synthetic-images" ? Shape{1, 28, 28} : Shape{p.dim, 1, 1};
  d.classes = p.classes;
  d.train = Split::from_f32(d.shape, std::move(xtr), std::move(ytr));
  d.test = Split::from_f32(d.shape, std::move(xte), std::move(yte));
  d.checksum = h.hex_digest();
  d.source = "generated: " + with_synthetic_defaults(spec).canonical();
  return d;
}

}  // namespace normlab
