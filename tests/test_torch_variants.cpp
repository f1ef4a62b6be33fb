// Dropout, ghost-batch, batch-renorm, noisy-batch and PreciseBN statistics against
// PyTorch (fixtures from scripts/make_fixtures.py, tests/fixtures/variants.safetensors,
// computed by torch in float64; batch renorm by a torch-ops implementation there).
//
// Per norm case, VARIANT_STEPS training steps in a row from the same layer: forward y,
// input gradient dx, dgamma, dbeta (loss = sum(y*dy)), running mean/var after the step;
// renorm also r and d; noise is the fixture's (given), dropout masks too.
// Error as in test_torch_norms.cpp: |a - r| / max(1, |r|); float 1e-5, double 1e-10.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "nn/dropout.h"
#include "nn/model.h"
#include "nn/norm_layers.h"
#include "tensor/safetensors.h"
#include "train/precise_bn.h"

using namespace normlab;

namespace {

const SafeTensorFile& fixture() {
  static const SafeTensorFile f =
      read_safetensors(std::string(NORMLAB_FIXTURES) + "/variants.safetensors");
  return f;
}

std::vector<nlohmann::json> cases(const std::string& kind) {
  std::vector<nlohmann::json> out;
  for (const auto& j : nlohmann::json::parse(fixture().metadata.at("cases")))
    if (j.at("kind") == kind) out.push_back(j);
  return out;
}

std::vector<double> fx(const std::string& name) { return fixture().at(name).to_double(); }

template <class T>
std::vector<T> as(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Worst error per quantity, reported once per test case.
struct Worst {
  std::map<std::string, double> e;
  double tol;
  void check(const std::string& cs, const std::string& what, const double* a,
             const std::vector<double>& r) {
    double m = 0;
    for (std::size_t i = 0; i < r.size(); ++i)
      m = std::max(m, std::abs(a[i] - r[i]) / std::max(1.0, std::abs(r[i])));
    e[what] = std::max(e[what], m);
    e[cs + " " + what] = std::max(e[cs + " " + what], m);
    CHECK_MESSAGE(m <= tol, cs, ": ", what, " max error ", m, " > ", tol);
  }
  template <class T>
  void check(const std::string& cs, const std::string& what, const T* a,
             const std::vector<double>& r) {
    std::vector<double> ad(a, a + r.size());
    check(cs, what, ad.data(), r);
  }
  void report(const std::string& title) const {
    double all = 0;
    std::ostringstream detail;
    for (const auto& [k, v] : e) {
      all = std::max(all, v);
      detail << "\n  " << k << ": " << std::scientific << v;
    }
    MESSAGE(title, ": worst error ", all, " (tolerance ", tol, ")", detail.str());
  }
};

Shape shape_of(const nlohmann::json& c) {
  return c.at("dense") ? Shape{c.at("C").get<int>(), 1, 1}
                       : Shape{c.at("C").get<int>(), c.at("H").get<int>(), c.at("W").get<int>()};
}

template <class T>
void dropout_cases(double tol) {
  Worst w{{}, tol};
  int n = 0;
  for (const auto& c : cases("dropout")) {
    ++n;
    const std::string name = c.at("name");
    const int N = c.at("N");
    Dropout<T> L(shape_of(c), c.at("p").get<double>(), 1, 2);
    L.reserve(N);
    const auto x = as<T>(fx(name + ".x")), keep = as<T>(fx(name + ".keep")),
               dy = as<T>(fx(name + ".dy"));
    std::vector<T> y(x.size()), dx(x.size(), T(0));
    L.use_given_keep(keep.data());
    L.forward(y.data(), x.data(), N, Mode::train);
    w.check(name, "train y", y.data(), fx(name + ".y"));
    L.backward(dx.data(), dy.data(), x.data(), y.data(), N);
    w.check(name, "train dx", dx.data(), fx(name + ".dx"));
    // Inference: the identity, forward and backward.
    std::fill(dx.begin(), dx.end(), T(0));
    L.forward(y.data(), x.data(), N, Mode::eval);
    CHECK(y == x);
    L.backward(dx.data(), dy.data(), x.data(), y.data(), N);
    CHECK(dx == dy);
  }
  CHECK(n >= 2);
  w.report(std::string("dropout (") + (sizeof(T) == 4 ? "float" : "double") + ")");
}

// ghost, renorm, noisy: VARIANT_STEPS steps through one BatchNorm layer.
template <class T>
void bn_variant_cases(const std::string& kind, double tol) {
  Worst w{{}, tol};
  int n = 0;
  for (const auto& c : cases(kind)) {
    ++n;
    const std::string name = c.at("name");
    auto R = [&](const std::string& k) { return fx(name + "." + k); };
    const int N = c.at("N"), C = c.at("C"), steps = c.at("steps");
    const bool affine = c.at("affine");
    NormOptions o;
    o.kind = kind == "ghost" ? NormKind::ghost_batch
             : kind == "renorm" ? NormKind::batch_renorm
                                : NormKind::noisy_batch;
    o.eps = c.at("eps");
    o.momentum = c.at("momentum");
    o.affine = affine;
    if (kind == "ghost") o.ghost_batch = c.at("K");
    if (kind == "renorm") {
      o.renorm_rmax = c.at("rmax");
      o.renorm_dmax = c.at("dmax");
      o.renorm_warmup = c.at("warmup");
    }
    BatchNorm<T> L(shape_of(c), o);
    std::vector<T> p(affine ? 2 * C : 0), g(p.size()), b(2 * std::size_t(C) + 1);
    if (affine) {
      const auto gamma = R("gamma"), beta = R("beta");
      std::copy(gamma.begin(), gamma.end(), p.begin());
      std::copy(beta.begin(), beta.end(), p.begin() + C);
    }
    L.bind(p.data(), g.data(), b.data());
    L.reserve(N);
    L.reset_buffers();
    if (kind == "renorm") {
      const auto rm0 = R("rm0"), rv0 = R("rv0");
      std::copy(rm0.begin(), rm0.end(), b.begin());
      std::copy(rv0.begin(), rv0.end(), b.begin() + C);
    }
    std::vector<T> scale, shift;
    for (int s = 1; s <= steps; ++s) {
      const std::string k = std::to_string(s);
      const auto x = as<T>(R("x" + k)), dy = as<T>(R("dy" + k));
      if (kind == "noisy") {
        scale = as<T>(R("scale" + k));
        shift = as<T>(R("shift" + k));
        L.use_given_noise(scale.data(), shift.data());
      }
      std::vector<T> y(x.size()), dx(x.size(), T(0));
      std::fill(g.begin(), g.end(), T(0));
      L.forward(y.data(), x.data(), N, Mode::train);
      w.check(name, "y", y.data(), R("y" + k));
      L.backward(dx.data(), dy.data(), x.data(), y.data(), N);
      w.check(name, "dx", dx.data(), R("dx" + k));
      if (affine) {
        w.check(name, "dgamma", g.data(), R("dgamma" + k));
        w.check(name, "dbeta", g.data() + C, R("dbeta" + k));
      }
      w.check(name, "running_mean", b.data(), R("rm" + k));
      w.check(name, "running_var", b.data() + C, R("rv" + k));
      if (kind == "renorm") {
        w.check(name, "r", L.renorm_r().data(), R("r" + k));
        w.check(name, "d", L.renorm_d().data(), R("d" + k));
      }
    }
    const int K = kind == "ghost" ? c.at("K").get<int>() : N;
    CHECK(b[2 * std::size_t(C)] == T(steps * ((N + K - 1) / K)));  // num_batches_tracked
  }
  CHECK(n >= 3);
  w.report(kind + " (" + (sizeof(T) == 4 ? "float" : "double") + ")");
}

}  // namespace

TEST_CASE("torch variants: dropout with given masks matches PyTorch") {
  dropout_cases<float>(1e-5);
  dropout_cases<double>(1e-10);
}

TEST_CASE("torch variants: ghost batch norm matches BatchNorm over torch.split chunks") {
  bn_variant_cases<float>("ghost", 1e-5);
  bn_variant_cases<double>("ghost", 1e-10);
}

TEST_CASE("torch variants: batch renorm matches the torch-ops reference, r and d included") {
  bn_variant_cases<float>("renorm", 1e-5);
  bn_variant_cases<double>("renorm", 1e-10);
}

TEST_CASE("torch variants: noisy batch norm with given noise matches PyTorch") {
  bn_variant_cases<float>("noisy", 1e-5);
  bn_variant_cases<double>("noisy", 1e-10);
}

TEST_CASE("torch variants: the renorm fixture exercises clipped and unclipped r and d") {
  int r_clipped = 0, r_free = 0, d_clipped = 0, d_free = 0;
  for (const auto& c : cases("renorm")) {
    const double rmax = c.at("rmax"), dmax = c.at("dmax");
    const int warmup = c.at("warmup");
    for (int s = 1; s <= c.at("steps").get<int>(); ++s) {
      const double f = warmup > 0 ? std::min(1.0, double(s - 1) / warmup) : 1.0;
      const double rm = 1 + (rmax - 1) * f, dm = dmax * f;
      if (f == 0) continue;
      for (double r : fx(c.at("name").get<std::string>() + ".r" + std::to_string(s)))
        (std::abs(r - rm) < 1e-12 || std::abs(r - 1 / rm) < 1e-12 ? r_clipped : r_free)++;
      for (double d : fx(c.at("name").get<std::string>() + ".d" + std::to_string(s)))
        (std::abs(std::abs(d) - dm) < 1e-12 ? d_clipped : d_free)++;
    }
  }
  CHECK(r_clipped > 0);
  CHECK(r_free > 0);
  CHECK(d_clipped > 0);
  CHECK(d_free > 0);
}

TEST_CASE("torch variants: PreciseBN population statistics and eval logits match PyTorch") {
  ModelConfig cfg;
  cfg.model = "mlp";
  cfg.widths = {6, 5};
  cfg.norm.kind = NormKind::batch;
  cfg.input = Shape{8, 1, 1};
  cfg.classes = 3;
  auto m = build_model<float>(cfg, 16);
  int loaded = 0;
  for (auto& e : m->state()) {
    const auto v = fixture().at("precise.state." + e.name).to_double();
    REQUIRE(v.size() == e.spec.numel());
    std::copy(v.begin(), v.end(), e.data);
    ++loaded;
  }
  CHECK(loaded == 16);
  const auto X = as<float>(fx("precise.X"));  // (5, 16, 8)
  PreciseBN p(*m);
  for (int k = 0; k < 5; ++k) p.add(X.data() + std::size_t(k) * 16 * 8, 16);
  p.finish();
  Worst w{{}, 1e-5};
  int layers = 0;
  for (std::size_t i = 0; i < m->num_layers(); ++i)
    if (auto* bn = dynamic_cast<BatchNorm<float>*>(&m->layer(i))) {
      ++layers;
      w.check("precise", "population mean", bn->running_mean(), fx("precise.pop_mean." + std::to_string(i)));
      w.check("precise", "population var", bn->running_var(), fx("precise.pop_var." + std::to_string(i)));
    }
  CHECK(layers == 2);
  const auto xe = as<float>(fx("precise.x_eval"));
  const float* z = m->forward(xe.data(), 6, Mode::eval);
  w.check("precise", "eval logits", z, fx("precise.logits_eval"));
  w.report("PreciseBN (float)");
}

// The random parts themselves (their use is checked above with given values).
TEST_CASE("variants: dropout masks are 0 or 1/(1-p), drop about p, and follow the seed") {
  const Shape in{50, 1, 1};
  const int N = 200;  // 10000 draws
  const double p = 0.3;
  std::vector<float> x(std::size_t(N) * in.size(), 1.f), y1(x.size()), y2(x.size()), y3(x.size());
  Dropout<float> a(in, p, 7, 1), b(in, p, 7, 1), c(in, p, 7, 2);
  for (auto* L : {&a, &b, &c}) L->reserve(N);
  a.forward(y1.data(), x.data(), N, Mode::train);
  b.forward(y2.data(), x.data(), N, Mode::train);
  c.forward(y3.data(), x.data(), N, Mode::train);
  long dropped = 0;
  for (float v : y1) {
    CHECK((v == 0.f || v == float(1.0 / (1 - p))));
    dropped += v == 0.f;
  }
  // Binomial(10000, 0.3): sd 46; 5 sd either side.
  CHECK(std::abs(double(dropped) - p * double(y1.size())) < 5 * 46);
  CHECK(y1 == y2);  // same seed and stream
  CHECK(y1 != y3);  // another stream
  a.forward(y2.data(), x.data(), N, Mode::train);
  CHECK(y1 != y2);  // a new mask every step
}

TEST_CASE("variants: noisy-batch noise stays in its schedule's bounds and changes every step") {
  NormOptions o;
  o.kind = NormKind::noisy_batch;
  o.noise_mean = 0.5;
  o.noise_scale = 2;
  o.seed = 3;
  const int C = 64, N = 4;
  BatchNorm<double> L(Shape{C, 1, 1}, o);
  std::vector<double> p(2 * C), g(2 * C), b(2 * C + 1), x(std::size_t(N) * C), y(x.size());
  for (int c = 0; c < C; ++c) p[c] = 1;
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = double(i % 7) - double(i % 3);
  L.bind(p.data(), g.data(), b.data());
  L.reserve(N);
  L.reset_buffers();
  std::vector<double> prev_s, prev_m;
  double shift_spread = 0;
  for (int step = 0; step < 20; ++step) {
    L.forward(y.data(), x.data(), N, Mode::train);
    const auto& s = L.noise_scale();
    const auto& m = L.noise_shift();
    for (int c = 0; c < C; ++c) {
      CHECK(s[c] >= 1 / o.noise_scale);
      CHECK(s[c] <= o.noise_scale);
      CHECK(std::abs(m[c]) <= 2 * o.noise_mean);
    }
    // Within a step the shifts spread over [mu_t - a, mu_t + a]: width up to 2a.
    shift_spread = std::max(shift_spread, *std::max_element(m.begin(), m.end()) -
                                              *std::min_element(m.begin(), m.end()));
    if (step > 0) {
      CHECK(s != prev_s);
      CHECK(m != prev_m);
    }
    prev_s = s;
    prev_m = m;
  }
  CHECK(shift_spread > o.noise_mean);
  CHECK(shift_spread <= 2 * o.noise_mean);
  // Eval: no noise, batch norm with the running averages.
  std::vector<double> ye(x.size());
  L.forward(ye.data(), x.data(), N, Mode::eval);
  for (int c = 0; c < C; ++c) {
    const double want = (x[c] - b[c]) / std::sqrt(b[C + c] + o.eps) * p[c] + p[C + c];
    CHECK(ye[c] == doctest::Approx(want).epsilon(1e-12));
  }
}
