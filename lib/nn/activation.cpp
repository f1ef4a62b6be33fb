// Activations: forward from x, backward from the stored output y.
#include "nn/activation.h"

#include <fmt/format.h>

#include <cmath>

#include "core/errors.h"

namespace normlab {

ActKind parse_activation(const std::string& s) {
  if (s == "relu") return ActKind::relu;
  if (s == "sigmoid") return ActKind::sigmoid;
  if (s == "tanh") return ActKind::tanh;
  throw ConfigError(fmt::format("activation: unknown value '{}' (allowed: relu, sigmoid, tanh)", s));
}

std::string to_string(ActKind a) {
  switch (a) {
    case ActKind::relu: return "relu";
    case ActKind::sigmoid: return "sigmoid";
    case ActKind::tanh: return "tanh";
  }
  return "?";
}

template <class T>
void Activation<T>::forward(T* out, const T* in, int N, Mode) {
  const long n = long(N) * this->in_.size();
  switch (act_) {
    case ActKind::relu:
#pragma omp simd
      for (long i = 0; i < n; ++i) out[i] = in[i] > T(0) ? in[i] : T(0);
      break;
    case ActKind::sigmoid:
      for (long i = 0; i < n; ++i) out[i] = T(1) / (T(1) + std::exp(-in[i]));
      break;
    case ActKind::tanh:
      for (long i = 0; i < n; ++i) out[i] = std::tanh(in[i]);
      break;
  }
}

// din (N, in) += dout * f'(out)
template <class T>
void Activation<T>::backward(T* din, const T* dout, const T*, const T* out, int N) {
  const long n = long(N) * this->in_.size();
  switch (act_) {
    case ActKind::relu:  // a select, not a branch: signs are random
#pragma omp simd
      for (long i = 0; i < n; ++i) {
        const T d = dout[i];  // loaded unconditionally, so the select vectorizes
        din[i] += out[i] > T(0) ? d : T(0);
      }
      break;
    case ActKind::sigmoid:
#pragma omp simd
      for (long i = 0; i < n; ++i) din[i] += dout[i] * out[i] * (T(1) - out[i]);
      break;
    case ActKind::tanh:
#pragma omp simd
      for (long i = 0; i < n; ++i) din[i] += dout[i] * (T(1) - out[i] * out[i]);
      break;
  }
}

template <class T>
void Flatten<T>::forward(T* out, const T* in, int N, Mode) {
  const long n = long(N) * this->in_.size();
  for (long i = 0; i < n; ++i) out[i] = in[i];
}

template <class T>
void Flatten<T>::backward(T* din, const T* dout, const T*, const T*, int N) {
  const long n = long(N) * this->in_.size();
#pragma omp simd
  for (long i = 0; i < n; ++i) din[i] += dout[i];
}

template class Activation<float>;
template class Activation<double>;
template class Flatten<float>;
template class Flatten<double>;

}  // namespace normlab
