// The direct one-channel convolution (nn/conv_direct.h) against references
// written here from its contract:
//   - a double-precision convolution from the definition (no padding copy, bounds
//     checks instead): the values, to float rounding;
//   - a scalar rendering of the documented summation order: the bytes, for both
//     code paths (vector and portable), which must agree with each other, so
//     that a machine without AVX2 gets the same results;
//   - im2col + GEMM through conv2d_forward / conv2d_backward's other path.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "nn/conv2d.h"
#include "nn/conv_direct.h"
#include "tensor/gemm.h"
#include "kernel_test_util.h"

using namespace normlab;
using normlab::testing::random_values;
using normlab::testing::same_bytes;

namespace {

// x[ih, iw], 0 outside the plane.
template <class T>
T at(const std::vector<T>& x, const ConvGeom& g, int ih, int iw) {
  return ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? x[std::size_t(ih) * g.W + iw] : T(0);
}

// The documented order, one scalar at a time.
template <class T>
std::vector<T> forward_in_order(const std::vector<T>& x, const std::vector<T>& w, const T* bias, const ConvGeom& g) {
  std::vector<T> y(std::size_t(g.OC) * g.P());
  for (int o = 0; o < g.OC; ++o)
    for (int oh = 0; oh < g.OH(); ++oh)
      for (int ow = 0; ow < g.OW(); ++ow) {
        T acc = 0;
        for (int kh = 0; kh < g.KH; ++kh)
          for (int kw = 0; kw < g.KW; ++kw)
            acc = std::fma(w[(std::size_t(o) * g.KH + kh) * g.KW + kw], at(x, g, oh - g.pad + kh, ow - g.pad + kw), acc);
        y[(std::size_t(o) * g.OH() + oh) * g.OW() + ow] = bias ? acc + bias[o] : acc;
      }
  return y;
}

template <class T>
void weight_grad_in_order(std::vector<T>& dW, const std::vector<T>& dy, const std::vector<T>& x, const ConvGeom& g) {
  for (int o = 0; o < g.OC; ++o)
    for (int kh = 0; kh < g.KH; ++kh)
      for (int kw = 0; kw < g.KW; ++kw) {
        T lane[8] = {};
        for (int oh = 0; oh < g.OH(); ++oh)
          for (int ow = 0; ow < g.OW(); ++ow)
            lane[ow % 8] = std::fma(dy[(std::size_t(o) * g.OH() + oh) * g.OW() + ow],
                                    at(x, g, oh - g.pad + kh, ow - g.pad + kw), lane[ow % 8]);
        dW[(std::size_t(o) * g.KH + kh) * g.KW + kw] +=
            ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
      }
}

// Geometries of the first layers (cnn, cnn-small: no padding; resnet, cnn-plain: padding 1)
// and odd ones: fewer than 8 columns, a multiple of 8, 5x5, 1x1, non-square kernel, wide padding.
const ConvGeom kGeoms[] = {{1, 28, 28, 32, 3, 3, 1, 0}, {1, 28, 28, 16, 3, 3, 1, 1}, {1, 5, 6, 3, 3, 3, 1, 1},
                           {1, 9, 18, 4, 3, 3, 1, 0},   {1, 9, 13, 5, 5, 5, 1, 2},   {1, 7, 5, 3, 1, 1, 1, 0},
                           {1, 10, 17, 3, 2, 4, 1, 1},  {1, 4, 4, 2, 3, 3, 1, 3}};

template <class T>
void check_geometry(const ConvGeom& g, ConvIsa isa) {
  CAPTURE(g.H); CAPTURE(g.W); CAPTURE(g.OC); CAPTURE(g.KH); CAPTURE(g.KW); CAPTURE(g.pad); CAPTURE(int(isa));
  REQUIRE(conv_direct_applies(g));
  const auto x = random_values<T>(std::size_t(g.H) * g.W, 1), w = random_values<T>(std::size_t(g.OC) * g.K(), 2);
  const auto b = random_values<T>(std::size_t(g.OC), 3), dy = random_values<T>(std::size_t(g.OC) * g.P(), 4);
  std::vector<T> ws(conv_direct_workspace(g), T(7));  // 7: a stale workspace
  std::vector<T> y(std::size_t(g.OC) * g.P(), T(7));

  // values: the definition in double
  conv_direct_forward(y.data(), ws.data(), x.data(), w.data(), b.data(), g, isa);
  for (int o = 0; o < g.OC; ++o)
    for (int p = 0; p < g.P(); ++p) {
      double want = b[o];
      const int oh = p / g.OW(), ow = p % g.OW();
      for (int kh = 0; kh < g.KH; ++kh)
        for (int kw = 0; kw < g.KW; ++kw)
          want += double(w[(std::size_t(o) * g.KH + kh) * g.KW + kw]) * double(at(x, g, oh - g.pad + kh, ow - g.pad + kw));
      CHECK(double(y[std::size_t(o) * g.P() + p]) == doctest::Approx(want).epsilon(1e-5).scale(10));
    }
  // bytes: the documented order, with and without a bias
  CHECK(same_bytes(y, forward_in_order(x, w, b.data(), g)));
  conv_direct_forward(y.data(), ws.data(), x.data(), w.data(), static_cast<const T*>(nullptr), g, isa);
  CHECK(same_bytes(y, forward_in_order(x, w, static_cast<const T*>(nullptr), g)));

  // weight gradient: accumulates onto what is there, in the documented order
  const auto dw0 = random_values<T>(std::size_t(g.OC) * g.K(), 5);
  std::vector<T> got = dw0, want = dw0;
  conv_direct_weight_grad(got.data(), ws.data(), dy.data(), x.data(), g, isa);
  weight_grad_in_order(want, dy, x, g);
  CHECK(same_bytes(got, want));
  for (std::size_t i = 0; i < got.size(); ++i) {
    const int o = int(i) / g.K(), kh = int(i) % g.K() / g.KW, kw = int(i) % g.KW;
    double s = dw0[i];
    for (int oh = 0; oh < g.OH(); ++oh)
      for (int ow = 0; ow < g.OW(); ++ow)
        s += double(dy[(std::size_t(o) * g.OH() + oh) * g.OW() + ow]) * double(at(x, g, oh - g.pad + kh, ow - g.pad + kw));
    CHECK(double(got[i]) == doctest::Approx(s).epsilon(1e-5).scale(10));
  }
}

}  // namespace

TEST_CASE("conv direct: values from the definition, bytes from the documented order (both code paths)") {
  std::vector<ConvIsa> paths = {ConvIsa::portable};
  if (conv_vector_supported()) paths.push_back(ConvIsa::vector);
  else MESSAGE("this CPU has no AVX2+FMA: only the portable path is checked");
  for (ConvIsa isa : paths)
    for (const ConvGeom& g : kGeoms) {
      check_geometry<float>(g, isa);
      check_geometry<double>(g, isa);
    }
}

TEST_CASE("conv direct: serves one-channel stride-1 geometries only") {
  CHECK(conv_direct_applies(ConvGeom{1, 28, 28, 32, 3, 3, 1, 0}));
  CHECK_FALSE(conv_direct_applies(ConvGeom{1, 28, 28, 16, 3, 3, 2, 1}));  // cnn-deep's stride 2
  CHECK_FALSE(conv_direct_applies(ConvGeom{16, 14, 14, 32, 3, 3, 1, 1}));
}

// conv2d_forward / conv2d_backward on a batch: the direct path against im2col + GEMM
// computed here, to float rounding; the input gradient (still a GEMM) as well.
TEST_CASE("conv direct: conv2d_forward and conv2d_backward agree with im2col + GEMM") {
  const ConvGeom g{1, 12, 13, 6, 3, 3, 1, 1};
  const int N = 11, K = g.K(), P = g.P();
  const auto x = random_values<float>(std::size_t(N) * g.H * g.W, 11), w = random_values<float>(std::size_t(g.OC) * K, 12);
  const auto b = random_values<float>(g.OC, 13), dy = random_values<float>(std::size_t(N) * g.OC * P, 14);
  std::vector<float> col(kConvChunks * std::max<std::size_t>(conv_direct_workspace(g), std::size_t(K) * P));
  std::vector<float> dcol(kConvChunks * std::size_t(K) * P), parts(kConvChunks * std::size_t(g.OC) * (K + 1));
  std::vector<float> y(std::size_t(N) * g.OC * P), dx(std::size_t(N) * g.H * g.W, 0.f), dW(w.size(), 0.f), db(g.OC, 0.f);
  const Im2colPlan plan = im2col_plan(g);
  conv2d_forward(y.data(), col.data(), x.data(), w.data(), b.data(), N, g, plan);
  conv2d_backward(dx.data(), dW.data(), db.data(), col.data(), dcol.data(), parts.data(), dy.data(), x.data(), w.data(),
                  N, g, plan);
  std::vector<float> c(std::size_t(K) * P), yr(std::size_t(g.OC) * P), dWr(w.size(), 0.f), dxr(dx.size(), 0.f);
  for (int n = 0; n < N; ++n) {
    im2col(c.data(), x.data() + std::size_t(n) * g.H * g.W, g);
    gemm<float>(false, false, g.OC, P, K, 1.f, w.data(), c.data(), 0.f, yr.data());
    for (int o = 0; o < g.OC; ++o)
      for (int p = 0; p < P; ++p)
        CHECK(y[(std::size_t(n) * g.OC + o) * P + p] == doctest::Approx(yr[std::size_t(o) * P + p] + b[o]).epsilon(1e-5));
    gemm<float>(false, true, g.OC, K, P, 1.f, dy.data() + std::size_t(n) * g.OC * P, c.data(), 1.f, dWr.data());
    gemm<float>(true, false, K, P, g.OC, 1.f, w.data(), dy.data() + std::size_t(n) * g.OC * P, 0.f, c.data());
    col2im_add(dxr.data() + std::size_t(n) * g.H * g.W, c.data(), g);
  }
  for (std::size_t i = 0; i < dW.size(); ++i) CHECK(dW[i] == doctest::Approx(dWr[i]).epsilon(1e-4));
  for (std::size_t i = 0; i < dx.size(); ++i) CHECK(dx[i] == doctest::Approx(dxr[i]).epsilon(1e-4));
}
