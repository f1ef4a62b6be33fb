// The normalization core's sums (nn/norm_core.cpp, numerics 7): 8 fixed lanes in a fixed
// tree, so its AVX2 compilation and its portable one give the same bytes.
// References: the documented lane order written out here, and the double-precision core.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "nn/conv2d.h"
#include "nn/norm_core.h"

using namespace normlab;

namespace {

std::vector<float> randn(std::size_t n, unsigned seed, float scale = 1.f, float shift = 0.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = shift + scale * d(rng);
  return v;
}

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Outputs {
  std::vector<float> mean, rstd, var, y, dx, dgamma, dbeta;
};

// Train forward and backward of one norm over x (N, C, S) on one code path.
Outputs run(const NormDims& d, const std::vector<float>& x, const std::vector<float>& dy,
            const std::vector<float>& gamma, const std::vector<float>& beta, ConvIsa isa) {
  Outputs o;
  const std::size_t st = std::size_t(d.stat_count()), n = x.size(), a = std::size_t(d.affine_size());
  o.mean.assign(st, 0);
  o.rstd.assign(st, 0);
  o.var.assign(st, 0);
  o.y.assign(n, 0);
  o.dx.assign(n, 0.25f);  // backward accumulates
  o.dgamma.assign(a, 0.5f);
  o.dbeta.assign(a, -0.5f);
  norm_stats(o.mean.data(), o.rstd.data(), o.var.data(), x.data(), d, 1e-5, isa);
  norm_apply(o.y.data(), x.data(), o.mean.data(), o.rstd.data(), gamma.data(), beta.data(), d, isa);
  norm_backward(o.dx.data(), o.dgamma.data(), o.dbeta.data(), dy.data(), x.data(), o.mean.data(), o.rstd.data(),
                gamma.data(), d, isa);
  return o;
}

NormDims dims(NormDims::Over over, int N, int C, int S, int groups, bool elementwise) {
  NormDims d;
  d.N = N;
  d.C = C;
  d.S = S;
  d.over = over;
  d.groups = groups;
  d.elementwise_affine = elementwise;
  return d;
}

}  // namespace

TEST_CASE("norm core: the AVX2 and portable compilations give the same bytes, every norm and shape") {
  if (!conv_vector_supported()) return;  // nothing to compare on this CPU
  using O = NormDims::Over;
  // Span lengths with and without a tail after the rows of 8 (S = 1, 5, 8, 13, 676).
  const std::vector<NormDims> cases = {
      dims(O::batch, 6, 4, 13, 1, false),   dims(O::batch, 16, 12, 1, 1, false), dims(O::batch, 3, 5, 676, 1, false),
      dims(O::group, 4, 8, 13, 2, false),   dims(O::group, 2, 32, 5, 8, false),  dims(O::group, 5, 12, 1, 3, false),
      dims(O::group, 3, 6, 13, 1, true),    dims(O::group, 2, 32, 676, 1, true), dims(O::group, 4, 16, 8, 1, false),
  };
  unsigned seed = 1;
  for (const auto& d : cases) {
    CAPTURE(d.N);
    CAPTURE(d.C);
    CAPTURE(d.S);
    CAPTURE(d.groups);
    const std::size_t n = std::size_t(d.N) * d.C * d.S, a = std::size_t(d.affine_size());
    // An offset mean, so that the shifted moments matter.
    const auto x = randn(n, seed++, 2.f, 3.f), dy = randn(n, seed++), gamma = randn(a, seed++, 0.3f, 1.f),
               beta = randn(a, seed++, 0.3f);
    const Outputs v = run(d, x, dy, gamma, beta, ConvIsa::vector), p = run(d, x, dy, gamma, beta, ConvIsa::portable);
    CHECK(same_bytes(v.mean, p.mean));
    CHECK(same_bytes(v.rstd, p.rstd));
    CHECK(same_bytes(v.var, p.var));
    CHECK(same_bytes(v.y, p.y));
    CHECK(same_bytes(v.dx, p.dx));
    CHECK(same_bytes(v.dgamma, p.dgamma));
    CHECK(same_bytes(v.dbeta, p.dbeta));
  }
}

namespace {
// The mean of x in the documented order with `lanes` lanes (shift K = x[0]; element s
// into lane s % lanes, each lane in s order; lanes combined pairwise: halves first).
double lane_tree(const double* l, int n) { return n == 1 ? l[0] : lane_tree(l, n / 2) + lane_tree(l + n / 2, n / 2); }
double mean_in_lanes(const std::vector<float>& x, int lanes) {
  std::vector<double> l(std::size_t(lanes), 0.0);
  for (std::size_t s = 0; s < x.size(); ++s) l[s % std::size_t(lanes)] += double(x[s]) - double(x[0]);
  return double(x[0]) + lane_tree(l.data(), lanes) / double(x.size());
}
}  // namespace

TEST_CASE("norm core: a span's sum is the documented 8-lane tree, and the order shows in the result") {
  // One layer-norm group of 40 values (rows of 8, then a tail of 8 + 4... here 5 rows):
  // +-1e20 cancel exactly only when they meet in one lane before the ones are added,
  // so the lane count and the order decide the mean by whole units.
  std::vector<float> x(37, 1.f);
  x[0] = 0.f;
  x[1] = 1e20f;
  x[9] = -1e20f;  // lane 1 of 8 (with x[1]); lane 9 of 16
  x[20] = 3e20f;
  x[36] = -3e20f;  // lane 4 of 8 (with x[20]); in the tail
  const NormDims d = dims(NormDims::Over::group, 1, 37, 1, 1, false);
  const double want = mean_in_lanes(x, 8);
  // The check can fail: 16 lanes, 4 lanes and a plain left-to-right sum give other means.
  double plain = 0;
  for (float v : x) plain += double(v) - double(x[0]);
  for (double other : {mean_in_lanes(x, 16), mean_in_lanes(x, 4), plain / double(x.size())})
    CHECK(float(other) != float(want));
  for (ConvIsa isa : {ConvIsa::portable, ConvIsa::vector}) {
    if (isa == ConvIsa::vector && !conv_vector_supported()) continue;
    float mean = 0, rstd = 0;
    norm_stats(&mean, &rstd, static_cast<float*>(nullptr), x.data(), d, 1e-5, isa);
    CHECK(mean == float(want));
  }
}

TEST_CASE("norm core: float results agree with the double core (same formulas, 8 lanes)") {
  const NormDims d = dims(NormDims::Over::group, 3, 16, 49, 4, false);
  const std::size_t n = std::size_t(d.N) * d.C * d.S, a = std::size_t(d.affine_size());
  const auto x = randn(n, 11, 1.5f, 2.f), dy = randn(n, 12), gamma = randn(a, 13, 0.2f, 1.f), beta = randn(a, 14, 0.2f);
  const Outputs f = run(d, x, dy, gamma, beta, ConvIsa::best);
  std::vector<double> xd(x.begin(), x.end()), dyd(dy.begin(), dy.end()), gd(gamma.begin(), gamma.end()),
      bd(beta.begin(), beta.end());
  std::vector<double> mean(std::size_t(d.stat_count())), rstd(mean.size()), y(n), dx(n, 0.25), dg(a, 0.5), db(a, -0.5);
  norm_stats(mean.data(), rstd.data(), static_cast<double*>(nullptr), xd.data(), d, 1e-5);
  norm_apply(y.data(), xd.data(), mean.data(), rstd.data(), gd.data(), bd.data(), d);
  norm_backward(dx.data(), dg.data(), db.data(), dyd.data(), xd.data(), mean.data(), rstd.data(), gd.data(), d);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(std::abs(f.y[i] - y[i]) <= 2e-5 * std::max(1.0, std::abs(y[i])));
    CHECK(std::abs(f.dx[i] - dx[i]) <= 2e-5 * std::max(1.0, std::abs(dx[i])));
  }
  for (std::size_t i = 0; i < a; ++i) {
    CHECK(std::abs(f.dgamma[i] - dg[i]) <= 2e-4 * std::max(1.0, std::abs(dg[i])));
    CHECK(std::abs(f.dbeta[i] - db[i]) <= 2e-4 * std::max(1.0, std::abs(db[i])));
  }
}
