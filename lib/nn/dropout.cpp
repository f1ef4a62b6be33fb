// Inverted dropout (see dropout.h):
//   train: mask = keep / (1-p), keep = 1[u >= p], u ~ U[0,1) per element
//          y = x * mask,  dx += dy * mask
//   eval:  y = x,         dx += dy
// Scaling at training time keeps E[y] = x, so inference needs no rescaling.
#include "nn/dropout.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/errors.h"

namespace normlab {

template <class T>
Dropout<T>::Dropout(Shape in, double p, uint64_t seed, uint64_t stream)
    : Layer<T>(in), p_(p), rng_(seed, stream) {
  if (!(p >= 0 && p < 1))
    throw ConfigError(fmt::format("dropout: {} is not a drop probability (allowed: 0 <= p < 1)", p));
}

template <class T>
void Dropout<T>::reserve(int max_batch) {
  mask_.resize(std::size_t(max_batch) * this->in_.size());
}

template <class T>
void Dropout<T>::forward(T* out, const T* in, int N, Mode mode) {
  const long n = long(N) * long(this->in_.size());
  masked_ = mode == Mode::train;
  if (!masked_) {
    std::copy(in, in + n, out);
    return;
  }
  const T scale = T(1.0 / (1.0 - p_));
  if (given_) {
    for (long i = 0; i < n; ++i) mask_[i] = given_[i] * scale;
  } else {
    // One uniform per element, in memory order: the stream fixes the masks.
    for (long i = 0; i < n; ++i) mask_[i] = rng_.uniform() >= p_ ? scale : T(0);
  }
  // Scalar math: out[i] = in[i] * mask[i]
  for (long i = 0; i < n; ++i) out[i] = in[i] * mask_[i];
}

template <class T>
void Dropout<T>::backward(T* din, const T* dout, const T*, const T*, int N) {
  if (!din) return;
  const long n = long(N) * long(this->in_.size());
  if (masked_)
    for (long i = 0; i < n; ++i) din[i] += dout[i] * mask_[i];
  else
    for (long i = 0; i < n; ++i) din[i] += dout[i];
}

template class Dropout<float>;
template class Dropout<double>;

}  // namespace normlab
