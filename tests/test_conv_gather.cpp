// The channel-vectorized direct convolution (nn/conv_gather.h) against references
// written here from its contract:
//   - a double-precision convolution from the definition, with bounds checks instead
//     of padding copies: the values of the output, input, weight and bias gradients,
//     to float rounding;
//   - a scalar rendering of the documented summation orders: the bytes, for both code
//     paths (vector and portable), which must agree, so that a machine without AVX2
//     gets the same results;
//   - the im2col + GEMM path of conv2d_forward / conv2d_backward, to float rounding.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "nn/conv2d.h"
#include "nn/conv_direct.h"
#include "nn/conv_gather.h"
#include "kernel_test_util.h"

using namespace normlab;
using normlab::testing::random_values;
using normlab::testing::same_bytes;

namespace {

struct Batch {
  ConvGeom g;
  int N;
  long in() const { return long(g.C) * g.H * g.W; }
  long out() const { return long(g.OC) * g.P(); }
};

// x_n[c, ih, iw], 0 outside the plane.
template <class T>
T xat(const std::vector<T>& x, const Batch& b, int n, int c, int ih, int iw) {
  const ConvGeom& g = b.g;
  return ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? x[n * b.in() + (long(c) * g.H + ih) * g.W + iw] : T(0);
}
template <class T>
T wat(const std::vector<T>& w, const ConvGeom& g, int o, int c, int kh, int kw) {
  return w[((long(o) * g.C + c) * g.KH + kh) * g.KW + kw];
}
// dy_n[o, oh, ow], 0 outside the output plane.
template <class T>
T dyat(const std::vector<T>& dy, const Batch& b, int n, int o, int oh, int ow) {
  const ConvGeom& g = b.g;
  return oh >= 0 && oh < g.OH() && ow >= 0 && ow < g.OW() ? dy[n * b.out() + (long(o) * g.OH() + oh) * g.OW() + ow]
                                                          : T(0);
}

struct Grads {
  std::vector<double> dx, dW, db;
};

// Every output and gradient from the definition, in double.
template <class T>
void definition(std::vector<double>& y, Grads& gr, const std::vector<T>& x, const std::vector<T>& w,
                const std::vector<T>& bias, const std::vector<T>& dy, const Batch& b) {
  const ConvGeom& g = b.g;
  const int s = g.stride, p = g.pad;
  y.assign(std::size_t(b.N * b.out()), 0.0);
  gr.dx.assign(std::size_t(b.N * b.in()), 0.0);
  gr.dW.assign(w.size(), 0.0);
  gr.db.assign(std::size_t(g.OC), 0.0);
  for (int n = 0; n < b.N; ++n)
    for (int o = 0; o < g.OC; ++o)
      for (int oh = 0; oh < g.OH(); ++oh)
        for (int ow = 0; ow < g.OW(); ++ow) {
          const long yi = n * b.out() + (long(o) * g.OH() + oh) * g.OW() + ow;
          const double d = dy[yi];
          double acc = bias[o];
          gr.db[o] += d;
          for (int c = 0; c < g.C; ++c)
            for (int kh = 0; kh < g.KH; ++kh)
              for (int kw = 0; kw < g.KW; ++kw) {
                const int ih = oh * s - p + kh, iw = ow * s - p + kw;
                const double xv = xat(x, b, n, c, ih, iw), wv = wat(w, g, o, c, kh, kw);
                acc += wv * xv;
                gr.dW[((long(o) * g.C + c) * g.KH + kh) * g.KW + kw] += xv * d;
                if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) gr.dx[n * b.in() + (long(c) * g.H + ih) * g.W + iw] += wv * d;
              }
          y[yi] = acc;
        }
}

// The documented orders, one scalar at a time.
template <class T>
std::vector<T> forward_in_order(const std::vector<T>& x, const std::vector<T>& w, const T* bias, const Batch& b) {
  const ConvGeom& g = b.g;
  std::vector<T> y(std::size_t(b.N * b.out()));
  for (int n = 0; n < b.N; ++n)
    for (int o = 0; o < g.OC; ++o)
      for (int oh = 0; oh < g.OH(); ++oh)
        for (int ow = 0; ow < g.OW(); ++ow) {
          T acc = 0;
          for (int c = 0; c < g.C; ++c)
            for (int kh = 0; kh < g.KH; ++kh)
              for (int kw = 0; kw < g.KW; ++kw)
                acc = std::fma(wat(w, g, o, c, kh, kw), xat(x, b, n, c, oh * g.stride - g.pad + kh, ow * g.stride - g.pad + kw), acc);
          y[n * b.out() + (long(o) * g.OH() + oh) * g.OW() + ow] = bias ? acc + bias[o] : acc;
        }
  return y;
}

// dx += the chain over (o, kh, kw) of the taps that reach (ih, iw), in that order.
template <class T>
void data_grad_in_order(std::vector<T>& dx, const std::vector<T>& dy, const std::vector<T>& w, const Batch& b) {
  const ConvGeom& g = b.g;
  const int s = g.stride;
  for (int n = 0; n < b.N; ++n)
    for (int c = 0; c < g.C; ++c)
      for (int ih = 0; ih < g.H; ++ih)
        for (int iw = 0; iw < g.W; ++iw) {
          T acc = 0;
          bool any = false;
          for (int o = 0; o < g.OC; ++o)
            for (int kh = (ih + g.pad) % s; kh < g.KH; kh += s)
              for (int kw = (iw + g.pad) % s; kw < g.KW; kw += s) {
                any = true;
                const int oh = (ih + g.pad - kh) / s, ow = (iw + g.pad - kw) / s;  // exact; may be < 0 only
                const bool inside = ih + g.pad - kh >= 0 && iw + g.pad - kw >= 0;
                acc = std::fma(wat(w, g, o, c, kh, kw), inside ? dyat(dy, b, n, o, oh, ow) : T(0), acc);
              }
          if (any) dx[n * b.in() + (long(c) * g.H + ih) * g.W + iw] += acc;
        }
}

// Per slice: chains from 0 over the slice's samples and pixels; the slices with samples
// summed in order; that sum added to the gradient.
template <class T>
void param_grads_in_order(std::vector<T>& dW, std::vector<T>& db, const std::vector<T>& dy, const std::vector<T>& x,
                          const Batch& b) {
  const ConvGeom& g = b.g;
  std::vector<T> sW(dW.size()), sb(db.size());
  bool first = true;
  for (int t = 0; t < kConvChunks; ++t) {
    const int n0 = t * b.N / kConvChunks, n1 = (t + 1) * b.N / kConvChunks;
    if (n0 == n1) continue;
    for (int o = 0; o < g.OC; ++o) {
      T accb = 0;
      for (int n = n0; n < n1; ++n)
        for (int pix = 0; pix < g.P(); ++pix) accb += dy[n * b.out() + long(o) * g.P() + pix];
      sb[o] = first ? accb : sb[o] + accb;
      for (int c = 0; c < g.C; ++c)
        for (int kh = 0; kh < g.KH; ++kh)
          for (int kw = 0; kw < g.KW; ++kw) {
            T acc = 0;
            for (int n = n0; n < n1; ++n)
              for (int oh = 0; oh < g.OH(); ++oh)
                for (int ow = 0; ow < g.OW(); ++ow)
                  acc = std::fma(xat(x, b, n, c, oh * g.stride - g.pad + kh, ow * g.stride - g.pad + kw),
                                 dyat(dy, b, n, o, oh, ow), acc);
            const long i = ((long(o) * g.C + c) * g.KH + kh) * g.KW + kw;
            sW[i] = first ? acc : sW[i] + acc;
          }
    }
    first = false;
  }
  for (std::size_t i = 0; i < dW.size(); ++i) dW[i] += sW[i];
  for (std::size_t i = 0; i < db.size(); ++i) db[i] += sb[i];
}

// cnn-deep's three layers, the resnet's stride-1 and projection layers, and odd ones:
// 24 channels (a 16-block and an 8-block), non-square planes and kernels, no padding,
// a 1x1 stride-2 projection (stride phases that no tap reaches), 5x5 stride 2 padding 2, stride 3.
const Batch kBatches[] = {
    {{16, 14, 14, 32, 3, 3, 2, 1}, 11}, {{32, 7, 7, 64, 3, 3, 2, 1}, 9},  {{1, 28, 28, 16, 3, 3, 2, 1}, 5},
    {{16, 12, 12, 16, 3, 3, 1, 1}, 10}, {{8, 9, 7, 24, 3, 3, 1, 1}, 8},   {{8, 6, 5, 8, 3, 3, 2, 0}, 3},
    {{16, 8, 8, 8, 1, 1, 2, 0}, 12},    {{8, 10, 9, 16, 5, 5, 2, 2}, 4},  {{8, 7, 7, 8, 3, 3, 3, 1}, 2},
    {{8, 6, 7, 16, 2, 3, 1, 1}, 17}};

template <class T>
void check_batch(const Batch& b, ConvIsa isa) {
  const ConvGeom& g = b.g;
  CAPTURE(g.C); CAPTURE(g.H); CAPTURE(g.W); CAPTURE(g.OC); CAPTURE(g.KH); CAPTURE(g.KW); CAPTURE(g.stride);
  CAPTURE(g.pad); CAPTURE(b.N); CAPTURE(int(isa)); CAPTURE(sizeof(T));
  REQUIRE(conv_gather_applies(g));
  const ConvGatherPlan plan = conv_gather_plan(g);
  const auto x = random_values<T>(std::size_t(b.N * b.in()), 1), w = random_values<T>(std::size_t(g.OC) * g.K(), 2);
  const auto bias = random_values<T>(std::size_t(g.OC), 3), dy = random_values<T>(std::size_t(b.N * b.out()), 4);
  std::vector<T> ws(kConvChunks * plan.workspace, T(7)), packed(plan.packed, T(7)), parts(kConvChunks * plan.parts, T(7));
  std::vector<T> y(std::size_t(b.N * b.out()), T(7));
  std::vector<double> yd;
  Grads want;
  definition(yd, want, x, w, bias, dy, b);

  // forward: values, then bytes with and without a bias
  conv_gather_forward(y.data(), ws.data(), packed.data(), x.data(), w.data(), bias.data(), b.N, g, plan, isa);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(double(y[i]) == doctest::Approx(yd[i]).epsilon(1e-5).scale(10));
  CHECK(same_bytes(y, forward_in_order(x, w, bias.data(), b)));
  conv_gather_forward(y.data(), ws.data(), packed.data(), x.data(), w.data(), static_cast<const T*>(nullptr), b.N, g,
                      plan, isa);
  CHECK(same_bytes(y, forward_in_order(x, w, static_cast<const T*>(nullptr), b)));

  // backward: accumulates onto what is there
  auto dx0 = random_values<T>(x.size(), 5);
  for (std::size_t i = 0; i < dx0.size(); i += 3) dx0[i] = -T(0);  // a pixel no tap reaches must keep its -0
  const auto dW0 = random_values<T>(w.size(), 6), db0 = random_values<T>(bias.size(), 7);
  std::vector<T> dx = dx0, dW = dW0, db = db0;
  conv_gather_backward(dx.data(), dW.data(), db.data(), ws.data(), packed.data(), parts.data(), dy.data(), x.data(),
                       w.data(), b.N, g, plan, isa);
  for (std::size_t i = 0; i < dx.size(); ++i)
    CHECK(double(dx[i]) == doctest::Approx(double(dx0[i]) + want.dx[i]).epsilon(1e-5).scale(10));
  for (std::size_t i = 0; i < dW.size(); ++i)
    CHECK(double(dW[i]) == doctest::Approx(double(dW0[i]) + want.dW[i]).epsilon(1e-5).scale(10));
  for (std::size_t i = 0; i < db.size(); ++i)
    CHECK(double(db[i]) == doctest::Approx(double(db0[i]) + want.db[i]).epsilon(1e-5).scale(10));
  std::vector<T> dx_o = dx0, dW_o = dW0, db_o = db0;
  data_grad_in_order(dx_o, dy, w, b);
  param_grads_in_order(dW_o, db_o, dy, x, b);
  CHECK(same_bytes(dx, dx_o));
  CHECK(same_bytes(dW, dW_o));
  CHECK(same_bytes(db, db_o));

  // without the input gradient (a first layer) and the bias: the weight gradient alone, the same bytes
  std::vector<T> dW2 = dW0;
  conv_gather_backward(static_cast<T*>(nullptr), dW2.data(), static_cast<T*>(nullptr), ws.data(), packed.data(),
                       parts.data(), dy.data(), x.data(), w.data(), b.N, g, plan, isa);
  CHECK(same_bytes(dW2, dW_o));
}

}  // namespace

TEST_CASE("conv gather: values from the definition, bytes from the documented orders (both code paths)") {
  std::vector<ConvIsa> paths = {ConvIsa::portable};
  if (conv_vector_supported()) paths.push_back(ConvIsa::vector);
  else MESSAGE("this CPU has no AVX2+FMA (or NORMLAB_CONV_ISA=portable): only the portable path is checked");
  for (ConvIsa isa : paths)
    for (const Batch& b : kBatches) {
      check_batch<float>(b, isa);
      check_batch<double>(b, isa);
    }
}

TEST_CASE("conv gather: serves channel counts in eights and strided first layers, not one-channel stride 1") {
  CHECK(conv_gather_applies(ConvGeom{16, 14, 14, 32, 3, 3, 2, 1}));
  CHECK(conv_gather_applies(ConvGeom{1, 28, 28, 16, 3, 3, 2, 1}));   // cnn-deep's first layer
  CHECK_FALSE(conv_gather_applies(ConvGeom{1, 28, 28, 16, 3, 3, 1, 1}));  // conv_direct's
  CHECK(conv_direct_applies(ConvGeom{1, 28, 28, 16, 3, 3, 1, 1}));
  CHECK_FALSE(conv_gather_applies(ConvGeom{4, 12, 12, 8, 3, 3, 1, 1}));   // 4 input channels
  CHECK_FALSE(conv_gather_applies(ConvGeom{8, 12, 12, 6, 3, 3, 1, 1}));   // 6 output channels
}

// The layer: a Conv2D on a gather geometry against the im2col + GEMM kernels, to float rounding.
TEST_CASE("conv gather: the Conv2D layer agrees with im2col + GEMM") {
  const ConvGeom g{16, 14, 14, 32, 3, 3, 2, 1};
  const int N = 13;
  Conv2D<float> layer(Shape{g.C, g.H, g.W}, g.OC, 3, 2, 1);
  std::vector<float> params(std::size_t(g.OC) * g.K() + g.OC), grads(params.size(), 0.f);
  params = random_values<float>(params.size(), 21);
  layer.bind(params.data(), grads.data(), nullptr);
  layer.reserve(N);
  const auto x = random_values<float>(std::size_t(N) * g.C * g.H * g.W, 22);
  const auto dy = random_values<float>(std::size_t(N) * g.OC * g.P(), 23);
  std::vector<float> y(dy.size()), dx(x.size(), 0.f);
  layer.forward(y.data(), x.data(), N, Mode::train);
  layer.backward(dx.data(), dy.data(), x.data(), y.data(), N);

  const int K = g.K(), P = g.P();
  std::vector<float> col(kConvChunks * std::size_t(K) * P), dcol(col.size()), parts(kConvChunks * std::size_t(g.OC) * (K + 1));
  std::vector<float> yr(y.size()), dxr(x.size(), 0.f), gr(grads.size(), 0.f);
  const Im2colPlan plan = im2col_plan(g);
  conv2d_forward(yr.data(), col.data(), x.data(), params.data(), params.data() + long(g.OC) * K, N, g, plan);
  conv2d_backward(dxr.data(), gr.data(), gr.data() + long(g.OC) * K, col.data(), dcol.data(), parts.data(), dy.data(),
                  x.data(), params.data(), N, g, plan);
  for (std::size_t i = 0; i < y.size(); ++i) CHECK(y[i] == doctest::Approx(yr[i]).epsilon(1e-5));
  for (std::size_t i = 0; i < dx.size(); ++i) CHECK(dx[i] == doctest::Approx(dxr[i]).epsilon(1e-4));
  for (std::size_t i = 0; i < grads.size(); ++i) CHECK(grads[i] == doctest::Approx(gr[i]).epsilon(1e-4));
}
