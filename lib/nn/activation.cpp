// Activations: forward from x, backward from the stored output y.
// relu's two loops (a select, and a select and an add per element) are also compiled
// for AVX2: element-wise, so the bytes are those of the portable loop.
#include "nn/activation.h"

#include <immintrin.h>

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "core/errors.h"
#include "nn/conv2d.h"

namespace normlab {

namespace {
// out = max(in, 0) as a select (a NaN input gives 0, as before)
template <class T>
[[gnu::always_inline]] inline void relu_forward(T* out, const T* in, long n) {
#pragma omp simd
  for (long i = 0; i < n; ++i) out[i] = in[i] > T(0) ? in[i] : T(0);
}
// din += dout where out > 0: a select, not a branch (signs are random)
template <class T>
[[gnu::always_inline]] inline void relu_backward(T* din, const T* dout, const T* out, long n) {
#pragma omp simd
  for (long i = 0; i < n; ++i) {
    const T d = dout[i];  // loaded unconditionally, so the select vectorizes
    din[i] += out[i] > T(0) ? d : T(0);
  }
}
// d = 0 + (out > 0 ? d : 0): relu_backward into a zeroed din, with din == dout
template <class T>
[[gnu::always_inline]] inline void relu_backward_in_place(T* d, const T* out, long n) {
#pragma omp simd
  for (long i = 0; i < n; ++i) {
    const T g = d[i];
    d[i] = T(0) + (out[i] > T(0) ? g : T(0));
  }
}
// The same in AVX2 intrinsics (GCC turns the loop above into a branch per element):
// the select as a bitwise and with the comparison's mask, then the add of 0.
__attribute__((target("avx2"))) void relu_backward_in_place_vec(float* d, const float* out, long n) {
  const __m256 zero = _mm256_setzero_ps();
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(out + i), zero, _CMP_GT_OQ);
    _mm256_storeu_ps(d + i, _mm256_add_ps(zero, _mm256_and_ps(keep, _mm256_loadu_ps(d + i))));
  }
  relu_backward_in_place(d + i, out + i, n - i);
}
__attribute__((target("avx2"))) void relu_forward_vec(float* out, const float* in, long n) {
  relu_forward(out, in, n);
}
__attribute__((target("avx2"))) void relu_backward_vec(float* din, const float* dout, const float* out, long n) {
  relu_backward(din, dout, out, n);
}
}  // namespace

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
      if constexpr (std::is_same_v<T, float>)
        if (conv_use_vector(ConvIsa::best)) {
          relu_forward_vec(out, in, n);
          break;
        }
      relu_forward(out, in, n);
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
    case ActKind::relu:
      if constexpr (std::is_same_v<T, float>)
        if (conv_use_vector(ConvIsa::best)) {
          relu_backward_vec(din, dout, out, n);
          break;
        }
      relu_backward(din, dout, out, n);
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
void relu_in_place(T* x, long n) {
  if constexpr (std::is_same_v<T, float>)
    if (conv_use_vector(ConvIsa::best)) return relu_forward_vec(x, x, n);
  relu_forward(x, x, n);
}
template void relu_in_place<float>(float*, long);
template void relu_in_place<double>(double*, long);

template <class T>
void Activation<T>::backward_in_place(T* d, const T* out, int N) {
  if (act_ != ActKind::relu) throw std::logic_error("Activation::backward_in_place: relu only");
  const long n = long(N) * this->in_.size();
  if constexpr (std::is_same_v<T, float>)
    if (conv_use_vector(ConvIsa::best)) return relu_backward_in_place_vec(d, out, n);
  relu_backward_in_place(d, out, n);
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
