// Pooling over k x k windows with stride s, no padding:
//   max: y = max_{window} x, dx[argmax] += dy (first maximum wins on ties, as PyTorch)
//   avg: y = mean_{window} x, dx[window] += dy / k^2
#include "nn/pool.h"

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

template <class T>
void MaxPool2D<T>::forward(T* out, const T* in, int N, Mode) {
  const Shape o = this->out_, i = this->in_;
  for (long p = 0; p < long(N) * o.c; ++p) {
    const T* x = in + p * i.spatial();
    T* y = out + p * o.spatial();
    int32_t* am = argmax_.data() + p * o.spatial();
    for (int oh = 0; oh < o.h; ++oh)
      for (int ow = 0; ow < o.w; ++ow) {
        int best = oh * s_ * i.w + ow * s_;
        for (int kh = 0; kh < k_; ++kh)
          for (int kw = 0; kw < k_; ++kw) {
            const int idx = (oh * s_ + kh) * i.w + ow * s_ + kw;
            if (x[idx] > x[best]) best = idx;
          }
        y[oh * o.w + ow] = x[best];
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
