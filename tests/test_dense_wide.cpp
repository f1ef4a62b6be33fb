// The wide dense products (nn/dense_wide.h) against references written here: the
// documented summation order one scalar at a time (bytes, both code paths, which
// must agree so that a machine without AVX2 gets the same results), a
// double-precision product (values), and a case whose result depends on the order.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernel_test_util.h"
#include "nn/dense.h"
#include "nn/dense_wide.h"

using namespace normlab;
using normlab::testing::random_values;
using normlab::testing::same_bytes;

namespace {

// The contract's forward: 8 lanes of fma chains, zero-padded, then the fixed lane tree.
float documented_dot(const float* a, const float* w, int K) {
  float l[8] = {};
  for (int k0 = 0; k0 < K; k0 += 8)
    for (int j = 0; j < 8; ++j) l[j] = k0 + j < K ? std::fma(a[k0 + j], w[k0 + j], l[j]) : std::fma(0.0f, 0.0f, l[j]);
  return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

void check_shape(int N, int IN, int OUT, ConvIsa isa) {
  CAPTURE(N); CAPTURE(IN); CAPTURE(OUT); CAPTURE(int(isa));
  const auto x = random_values<float>(std::size_t(N) * IN, 1), W = random_values<float>(std::size_t(OUT) * IN, 2);
  const auto b = random_values<float>(std::size_t(OUT), 3), dy = random_values<float>(std::size_t(N) * OUT, 4);
  const auto dx0 = random_values<float>(std::size_t(N) * IN, 5), dW0 = random_values<float>(std::size_t(OUT) * IN, 6);
  // forward, with and without a bias
  for (const float* bias : {b.data(), static_cast<const float*>(nullptr)}) {
    std::vector<float> y(std::size_t(N) * OUT, -7.0f), want(y.size());
    dense_wide_forward(y.data(), x.data(), W.data(), bias, N, IN, OUT, isa);
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < OUT; ++o) {
        const float* xr = &x[std::size_t(n) * IN];
        const float* wr = &W[std::size_t(o) * IN];
        want[std::size_t(n) * OUT + o] = (bias ? bias[o] : 0.0f) + documented_dot(xr, wr, IN);
        double exact = bias ? bias[o] : 0.0;
        for (int k = 0; k < IN; ++k) exact += double(xr[k]) * double(wr[k]);
        CHECK(double(y[std::size_t(n) * OUT + o]) == doctest::Approx(exact).epsilon(1e-4).scale(std::sqrt(IN)));
      }
    CHECK(same_bytes(y, want));
  }
  // data: dx += dy W, one chain over o from dx
  std::vector<float> dx = dx0, want_dx = dx0;
  dense_wide_data(dx.data(), dy.data(), W.data(), N, IN, OUT, isa);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < IN; ++k) {
      float acc = dx0[std::size_t(n) * IN + k];
      double exact = acc;
      for (int o = 0; o < OUT; ++o) {
        acc = std::fma(dy[std::size_t(n) * OUT + o], W[std::size_t(o) * IN + k], acc);
        exact += double(dy[std::size_t(n) * OUT + o]) * double(W[std::size_t(o) * IN + k]);
      }
      want_dx[std::size_t(n) * IN + k] = acc;
      CHECK(double(dx[std::size_t(n) * IN + k]) == doctest::Approx(exact).epsilon(1e-5).scale(4));
    }
  CHECK(same_bytes(dx, want_dx));
  // weight: dW += dy^T x, one chain over n from dW
  std::vector<float> dW = dW0, want_dW = dW0;
  dense_wide_weight(dW.data(), dy.data(), x.data(), N, IN, OUT, isa);
  for (int o = 0; o < OUT; ++o)
    for (int k = 0; k < IN; ++k) {
      float acc = dW0[std::size_t(o) * IN + k];
      double exact = acc;
      for (int n = 0; n < N; ++n) {
        acc = std::fma(dy[std::size_t(n) * OUT + o], x[std::size_t(n) * IN + k], acc);
        exact += double(dy[std::size_t(n) * OUT + o]) * double(x[std::size_t(n) * IN + k]);
      }
      want_dW[std::size_t(o) * IN + k] = acc;
      CHECK(double(dW[std::size_t(o) * IN + k]) == doctest::Approx(exact).epsilon(1e-5).scale(4));
    }
  CHECK(same_bytes(dW, want_dW));
}

std::vector<ConvIsa> paths() {
  std::vector<ConvIsa> p = {ConvIsa::portable};
  if (conv_vector_supported()) p.push_back(ConvIsa::vector);
  else MESSAGE("this CPU has no AVX2+FMA (or NORMLAB_CONV_ISA=portable): only the portable path is checked");
  return p;
}

}  // namespace

TEST_CASE("wide dense products: the documented fma order and values, both code paths") {
  // the cnn's classifier (21632 -> 10) and odd shapes: a partial lane block (IN % 8),
  // a partial 16-column block, output groups of 1 to 5, odd row counts
  const int shapes[][3] = {{2, 21632, 10}, {5, 4096, 16}, {3, 4099, 7}, {1, 4107, 1}, {4, 4104, 3}, {9, 4100, 5}};
  for (ConvIsa isa : paths())
    for (const auto& s : shapes) check_shape(s[0], s[1], s[2], isa);
}

TEST_CASE("wide dense forward: the lanes' order decides a cancelling sum") {
  // x . w with terms 1e8 (k = 0), 1 (k = 8), -1e8 (k = 16), all in lane 0: the chain
  // loses the 1 (1e8 + 1 rounds to 1e8 in float), so the documented order gives 0;
  // summing the 1 last (or in another lane) would give 1.
  const int IN = kWideMinIn;
  std::vector<float> x(IN, 0.0f), w(IN, 1.0f);
  x[0] = 1e8f;
  x[8] = 1.0f;
  x[16] = -1e8f;
  for (ConvIsa isa : paths()) {
    float y = -1;
    dense_wide_forward(&y, x.data(), w.data(), nullptr, 1, IN, 1, isa);
    CHECK(y == 0.0f);
    // the same terms in lanes 0, 1 and 0: the 1 survives in its own lane
    std::vector<float> x2(IN, 0.0f);
    x2[0] = 1e8f;
    x2[1] = 1.0f;
    x2[16] = -1e8f;
    dense_wide_forward(&y, x2.data(), w.data(), nullptr, 1, IN, 1, isa);
    CHECK(y == 1.0f);
  }
}

TEST_CASE("dense layer: a wide float layer takes the wide kernels, and agrees with the double layer") {
  const int N = 3, IN = kWideMinIn + 5, OUT = 10;
  REQUIRE(dense_wide_applies(IN, OUT));
  REQUIRE_FALSE(dense_wide_applies(kWideMinIn - 1, OUT));
  REQUIRE_FALSE(dense_wide_applies(IN, kWideMaxOut + 1));
  const auto x = random_values<float>(std::size_t(N) * IN, 11), W = random_values<float>(std::size_t(OUT) * IN, 12);
  const auto b = random_values<float>(OUT, 13), dy = random_values<float>(std::size_t(N) * OUT, 14);
  std::vector<float> y(N * OUT), want(N * OUT), dx(std::size_t(N) * IN, 0.0f), dW(std::size_t(OUT) * IN, 0.0f),
      db(OUT, 0.0f);
  dense_forward(y.data(), x.data(), W.data(), b.data(), N, IN, OUT);
  dense_wide_forward(want.data(), x.data(), W.data(), b.data(), N, IN, OUT);
  CHECK(same_bytes(y, want));
  dense_backward(dx.data(), dW.data(), db.data(), dy.data(), x.data(), W.data(), N, IN, OUT);
  std::vector<double> xd(x.begin(), x.end()), Wd(W.begin(), W.end()), bd(b.begin(), b.end()),
      dyd(dy.begin(), dy.end()), yd(N * OUT), dxd(std::size_t(N) * IN, 0.0), dWd(std::size_t(OUT) * IN, 0.0),
      dbd(OUT, 0.0);
  dense_forward(yd.data(), xd.data(), Wd.data(), bd.data(), N, IN, OUT);  // double: BLAS
  dense_backward(dxd.data(), dWd.data(), dbd.data(), dyd.data(), xd.data(), Wd.data(), N, IN, OUT);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(double(y[i]) == doctest::Approx(yd[i]).epsilon(1e-4).scale(64));
  for (std::size_t i = 0; i < dx.size(); ++i) CHECK(double(dx[i]) == doctest::Approx(dxd[i]).epsilon(1e-5).scale(4));
  for (std::size_t i = 0; i < dW.size(); ++i) CHECK(double(dW[i]) == doctest::Approx(dWd[i]).epsilon(1e-5).scale(4));
  for (int o = 0; o < OUT; ++o) CHECK(double(db[o]) == doctest::Approx(dbd[o]).epsilon(1e-6));
}
