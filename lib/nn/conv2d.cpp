// Conv2D by im2col + GEMM, one sample at a time:
//   col = im2col(x_n)                  (K, P),  K = C*KH*KW, P = OH*OW
//   y_n = W (OC, K) @ col + b          (OC, P)
//   dW += dy_n @ col^T,  db += sum_p dy_n,  dx_n += col2im(W^T @ dy_n)
// im2col is recomputed in backward rather than stored for the whole batch.
// The batch is cut into kChunks fixed slices (run on the run's thread pool);
// weight gradients are summed per slice, then across slices in slice order,
// so the result does not depend on how many threads ran the slices.
#include "nn/conv2d.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/errors.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace normlab {

template <class T>
void im2col(T* col, const T* img, const ConvGeom& g) {
  const int OH = g.OH(), OW = g.OW();
  for (int c = 0; c < g.C; ++c)
    for (int kh = 0; kh < g.KH; ++kh)
      for (int kw = 0; kw < g.KW; ++kw) {
        T* row = col + (long(c * g.KH + kh) * g.KW + kw) * OH * OW;
        for (int oh = 0; oh < OH; ++oh) {
          const int ih = oh * g.stride - g.pad + kh;
          T* r = row + long(oh) * OW;
          if (ih < 0 || ih >= g.H) {
            std::fill(r, r + OW, T(0));
            continue;
          }
          const T* src = img + (long(c) * g.H + ih) * g.W;
          for (int ow = 0; ow < OW; ++ow) {
            const int iw = ow * g.stride - g.pad + kw;
            r[ow] = (iw >= 0 && iw < g.W) ? src[iw] : T(0);
          }
        }
      }
}

template <class T>
void col2im_add(T* img, const T* col, const ConvGeom& g) {
  const int OH = g.OH(), OW = g.OW();
  for (int c = 0; c < g.C; ++c)
    for (int kh = 0; kh < g.KH; ++kh)
      for (int kw = 0; kw < g.KW; ++kw) {
        const T* row = col + (long(c * g.KH + kh) * g.KW + kw) * OH * OW;
        for (int oh = 0; oh < OH; ++oh) {
          const int ih = oh * g.stride - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          T* dst = img + (long(c) * g.H + ih) * g.W;
          const T* r = row + long(oh) * OW;
          for (int ow = 0; ow < OW; ++ow) {
            const int iw = ow * g.stride - g.pad + kw;
            if (iw >= 0 && iw < g.W) dst[iw] += r[ow];
          }
        }
      }
}

template <class T>
Conv2D<T>::Conv2D(Shape in, int out_channels, int kernel, int stride, int pad, bool bias)
    : Layer<T>(in), g_{in.c, in.h, in.w, out_channels, kernel, kernel, stride, pad}, bias_(bias) {
  if (out_channels < 1 || kernel < 1 || stride < 1 || pad < 0 || g_.OH() < 1 || g_.OW() < 1)
    throw ConfigError(fmt::format("conv2d: {} channels, kernel {}, stride {}, padding {} does not fit "
                                  "input {}", out_channels, kernel, stride, pad, in.str()));
  this->out_ = Shape{out_channels, g_.OH(), g_.OW()};
}

template <class T>
std::vector<TensorSpec> Conv2D<T>::params() const {
  std::vector<TensorSpec> p = {{"weight", {g_.OC, g_.C, g_.KH, g_.KW}}};
  if (bias_) p.push_back({"bias", {g_.OC}});
  return p;
}

template <class T>
void Conv2D<T>::reserve(int) {
  const std::size_t kp = std::size_t(g_.K()) * g_.P();
  col_.resize(kChunks * kp);
  dcol_.resize(kChunks * kp);
  dw_part_.resize(kChunks * std::size_t(g_.OC) * (g_.K() + 1));
}

template <class T>
void Conv2D<T>::forward(T* out, const T* in, int N, Mode) {
  const int K = g_.K(), P = g_.P(), OC = g_.OC;
  const T* W = this->param_;
  const T* b = bias_ ? W + long(OC) * K : nullptr;
  auto chunk = [&](int t) {
    T* col = col_.data() + std::size_t(t) * K * P;
    for (int n = t * N / kChunks; n < (t + 1) * N / kChunks; ++n) {
      const T* x = in + long(n) * this->in_.size();
      T* y = out + long(n) * OC * P;
      if (b)
        for (int o = 0; o < OC; ++o) std::fill(y + long(o) * P, y + long(o + 1) * P, b[o]);
      im2col(col, x, g_);
      gemm<T>(false, false, OC, P, K, T(1), W, col, b ? T(1) : T(0), y);
    }
  };
  parallel_for(kChunks, chunk);
}

template <class T>
void Conv2D<T>::backward(T* din, const T* dout, const T* in, const T*, int N) {
  const int K = g_.K(), P = g_.P(), OC = g_.OC;
  const T* W = this->param_;
  const std::size_t part = std::size_t(OC) * (K + 1);  // dW (OC,K) then db (OC)
  auto chunk = [&](int t) {
    T* col = col_.data() + std::size_t(t) * K * P;
    T* dcol = dcol_.data() + std::size_t(t) * K * P;
    T* dW = dw_part_.data() + t * part;
    T* db = dW + long(OC) * K;
    std::fill(dW, dW + part, T(0));
    for (int n = t * N / kChunks; n < (t + 1) * N / kChunks; ++n) {
      const T* x = in + long(n) * this->in_.size();
      const T* dy = dout + long(n) * OC * P;
      im2col(col, x, g_);
      gemm<T>(false, true, OC, K, P, T(1), dy, col, T(1), dW);
      for (int o = 0; o < OC; ++o) {
        T sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int p = 0; p < P; ++p) sum += dy[long(o) * P + p];
        db[o] += sum;
      }
      if (!din) continue;
      gemm<T>(true, false, K, P, OC, T(1), W, dy, T(0), dcol);
      col2im_add(din + long(n) * this->in_.size(), dcol, g_);
    }
  };
  parallel_for(kChunks, chunk);
  // Fixed-order reduction of the chunk partials: the same sums for any thread count.
  T* dW = this->grad_;
  for (int t = 0; t < kChunks; ++t) {
    const T* pw = dw_part_.data() + t * part;
    for (long i = 0; i < long(OC) * K; ++i) dW[i] += pw[i];
    if (bias_)
      for (int o = 0; o < OC; ++o) dW[long(OC) * K + o] += pw[long(OC) * K + o];
  }
}

template void im2col<float>(float*, const float*, const ConvGeom&);
template void im2col<double>(double*, const double*, const ConvGeom&);
template void col2im_add<float>(float*, const float*, const ConvGeom&);
template void col2im_add<double>(double*, const double*, const ConvGeom&);
template class Conv2D<float>;
template class Conv2D<double>;

}  // namespace normlab
