// Pooling over k x k windows with stride s, no padding:
//   max: y = max_{window} x, dx[argmax] += dy (first maximum wins on ties, as PyTorch)
//   avg: y = mean_{window} x, dx[window] += dy / k^2
#include "nn/pool.h"

#include <cstring>
#include <type_traits>

#include <fmt/format.h>

#include "core/errors.h"

namespace normlab {

namespace {
Shape pooled(Shape in, int k, int s) {
  if (k < 1 || s < 1 || in.h < k || in.w < k)
    throw ConfigError(fmt::format("pool: kernel {} stride {} does not fit input {}", k, s, in.str()));
  return Shape{in.c, (in.h - k) / s + 1, (in.w - k) / s + 1};
}
}  // namespace

template <class T>
MaxPool2D<T>::MaxPool2D(Shape in, int kernel, int stride)
    : Layer<T>(in), k_(kernel), s_(stride > 0 ? stride : kernel) {
  this->out_ = pooled(in, k_, s_);
}

template <class T>
void MaxPool2D<T>::reserve(int max_batch) {
  argmax_.resize(std::size_t(max_batch) * this->out_.size());
}

namespace {
// Four outputs of a 2x2 stride-2 row at a time (GCC vector extensions: SSE2 on x86-64,
// the target's own vectors elsewhere). Comparisons and selects are exact, lane by lane
// the scalar loop's. Returns the outputs done.
using V4f = float __attribute__((vector_size(16)));
using V4i = int32_t __attribute__((vector_size(16)));
int max_pool_2x2_row4(float* y, int32_t* am, const float* r0, const float* r1, int base, int W, int OW) {
  const V4i even = {0, 2, 4, 6}, odd = {1, 3, 5, 7};  // even: also each lane's offset 2 * lane
  int ow = 0;
  for (; ow + 4 <= OW; ow += 4) {
    V4f u0, u1, l0, l1;
    std::memcpy(&u0, r0 + 2 * ow, 16);
    std::memcpy(&u1, r0 + 2 * ow + 4, 16);
    std::memcpy(&l0, r1 + 2 * ow, 16);
    std::memcpy(&l1, r1 + 2 * ow + 4, 16);
    const V4f a = __builtin_shuffle(u0, u1, even), b = __builtin_shuffle(u0, u1, odd);
    const V4f c = __builtin_shuffle(l0, l1, even), d = __builtin_shuffle(l0, l1, odd);
    V4f m = a;
    V4i k = {0, 0, 0, 0};
    V4i gt = b > m;
    k = gt ? V4i{1, 1, 1, 1} : k;
    m = gt ? b : m;
    gt = c > m;
    k = gt ? V4i{W, W, W, W} : k;
    m = gt ? c : m;
    gt = d > m;
    k = gt ? V4i{W + 1, W + 1, W + 1, W + 1} : k;
    m = gt ? d : m;
    const V4i idx = (base + 2 * ow) + even + k;
    std::memcpy(y + ow, &m, 16);
    std::memcpy(am + ow, &idx, 16);
  }
  return ow;
}

// The 2x2 stride-2 window (every CNN here): the same choices as the general loop, in
// the same order (a, b on the upper row, then c, d): four outputs at a time, then the rest.
template <class T>
void max_pool_2x2(T* y, int32_t* am, const T* x, int W, int OH, int OW) {
  for (int oh = 0; oh < OH; ++oh) {
    const T* r0 = x + 2 * oh * W;
    const T* r1 = r0 + W;
    const int base = 2 * oh * W;
    int ow = 0;
    if constexpr (std::is_same_v<T, float>) ow = max_pool_2x2_row4(y + oh * OW, am + oh * OW, r0, r1, base, W, OW);
    for (; ow < OW; ++ow) {
      const T a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      T m = a;
      int k = 0;
      k = b > m ? 1 : k;
      m = b > m ? b : m;
      k = c > m ? W : k;
      m = c > m ? c : m;
      k = d > m ? W + 1 : k;
      m = d > m ? d : m;
      y[oh * OW + ow] = m;
      am[oh * OW + ow] = base + 2 * ow + k;
    }
  }
}
}  // namespace

template <class T>
void MaxPool2D<T>::forward(T* out, const T* in, int N, Mode) {
  const Shape o = this->out_, i = this->in_;
  if (k_ == 2 && s_ == 2) {
    for (long p = 0; p < long(N) * o.c; ++p)
      max_pool_2x2(out + p * o.spatial(), argmax_.data() + p * o.spatial(), in + p * i.spatial(), i.w, o.h, o.w);
    return;
  }
  for (long p = 0; p < long(N) * o.c; ++p) {
    const T* x = in + p * i.spatial();
    T* y = out + p * o.spatial();
    int32_t* am = argmax_.data() + p * o.spatial();
    for (int oh = 0; oh < o.h; ++oh)
      for (int ow = 0; ow < o.w; ++ow) {
        // The first maximum in row-major window order (a later tie or NaN never replaces it);
        // selects instead of a branch, whose outcome follows the data and mispredicts.
        int best = oh * s_ * i.w + ow * s_;
        T bv = x[best];
        for (int kh = 0; kh < k_; ++kh)
          for (int kw = 0; kw < k_; ++kw) {
            const int idx = (oh * s_ + kh) * i.w + ow * s_ + kw;
            const T v = x[idx];
            const bool gt = v > bv;
            best = gt ? idx : best;
            bv = gt ? v : bv;
          }
        y[oh * o.w + ow] = bv;
        am[oh * o.w + ow] = best;
      }
  }
}

template <class T>
void MaxPool2D<T>::backward(T* din, const T* dout, const T*, const T*, int N) {
  const Shape o = this->out_, i = this->in_;
  for (long p = 0; p < long(N) * o.c; ++p) {
    T* dx = din + p * i.spatial();
    const T* dy = dout + p * o.spatial();
    const int32_t* am = argmax_.data() + p * o.spatial();
    for (int q = 0; q < o.spatial(); ++q) dx[am[q]] += dy[q];
  }
}

template <class T>
AvgPool2D<T>::AvgPool2D(Shape in, int kernel, int stride)
    : Layer<T>(in), k_(kernel), s_(stride > 0 ? stride : kernel) {
  this->out_ = pooled(in, k_, s_);
}

template <class T>
void AvgPool2D<T>::forward(T* out, const T* in, int N, Mode) {
  const Shape o = this->out_, i = this->in_;
  const T inv = T(1) / T(k_ * k_);
  for (long p = 0; p < long(N) * o.c; ++p) {
    const T* x = in + p * i.spatial();
    T* y = out + p * o.spatial();
    for (int oh = 0; oh < o.h; ++oh)
      for (int ow = 0; ow < o.w; ++ow) {
        T s = 0;
        for (int kh = 0; kh < k_; ++kh)
          for (int kw = 0; kw < k_; ++kw) s += x[(oh * s_ + kh) * i.w + ow * s_ + kw];
        y[oh * o.w + ow] = s * inv;
      }
  }
}

template <class T>
void AvgPool2D<T>::backward(T* din, const T* dout, const T*, const T*, int N) {
  const Shape o = this->out_, i = this->in_;
  const T inv = T(1) / T(k_ * k_);
  for (long p = 0; p < long(N) * o.c; ++p) {
    T* dx = din + p * i.spatial();
    const T* dy = dout + p * o.spatial();
    for (int oh = 0; oh < o.h; ++oh)
      for (int ow = 0; ow < o.w; ++ow) {
        const T g = dy[oh * o.w + ow] * inv;
        for (int kh = 0; kh < k_; ++kh)
          for (int kw = 0; kw < k_; ++kw) dx[(oh * s_ + kh) * i.w + ow * s_ + kw] += g;
      }
  }
}

template class MaxPool2D<float>;
template class MaxPool2D<double>;
template class AvgPool2D<float>;
template class AvgPool2D<double>;

}  // namespace normlab
