// Cross-entropy of softmax:  L = 1/N sum_n [ log sum_k e^{z_nk} - z_{n,y_n} ]
//   dL/dz_nk = (softmax(z_n)_k - [k == y_n]) / N
#include "nn/softmax_xent.h"

#include <cmath>

namespace normlab {

template <class T>
double softmax_xent_forward(T* probs, const T* logits, const int32_t* y, int N, int K) {
  double loss = 0;
  for (int n = 0; n < N; ++n) {
    const T* z = logits + long(n) * K;
    T* p = probs + long(n) * K;
    T zmax = z[0];
    for (int k = 1; k < K; ++k) zmax = z[k] > zmax ? z[k] : zmax;
    double sum = 0;
    for (int k = 0; k < K; ++k) {
      p[k] = std::exp(z[k] - zmax);
      sum += p[k];
    }
    const T inv = T(1.0 / sum);
    for (int k = 0; k < K; ++k) p[k] *= inv;
    loss += std::log(sum) - (double(z[y[n]]) - double(zmax));
  }
  return loss / N;
}

template <class T>
void softmax_xent_backward(T* dlogits, const T* probs, const int32_t* y, int N, int K) {
  const T inv = T(1) / T(N);
  for (int n = 0; n < N; ++n) {
    for (int k = 0; k < K; ++k) dlogits[long(n) * K + k] += probs[long(n) * K + k] * inv;
    dlogits[long(n) * K + y[n]] -= inv;
  }
}

template <class T>
int row_argmax(const T* logits, int n, int K) {
  const T* z = logits + long(n) * K;
  int best = 0;
  for (int k = 1; k < K; ++k)
    if (z[k] > z[best]) best = k;
  return best;
}

template <class T>
int count_correct(const T* logits, const int32_t* y, int N, int K) {
  int correct = 0;
  for (int n = 0; n < N; ++n) correct += row_argmax(logits, n, K) == y[n];
  return correct;
}

template double softmax_xent_forward<float>(float*, const float*, const int32_t*, int, int);
template double softmax_xent_forward<double>(double*, const double*, const int32_t*, int, int);
template void softmax_xent_backward<float>(float*, const float*, const int32_t*, int, int);
template void softmax_xent_backward<double>(double*, const double*, const int32_t*, int, int);
template int count_correct<float>(const float*, const int32_t*, int, int);
template int row_argmax<float>(const float*, int, int);
template int row_argmax<double>(const double*, int, int);
template int count_correct<double>(const double*, const int32_t*, int, int);

}  // namespace normlab
