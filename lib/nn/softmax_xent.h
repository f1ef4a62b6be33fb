#pragma once
// Softmax cross-entropy, mean over the batch (nn.CrossEntropyLoss).
#include <cstdint>

namespace normlab {

// probs (N,K) = softmax(logits (N,K)); returns mean_n -log probs[n, y[n]], computed
// as logsumexp(z) - z_y with the max subtracted, so large logits do not overflow.
// REQUIRES: 0 <= y[n] < K.
template <class T>
double softmax_xent_forward(T* probs, const T* logits, const int32_t* y, int N, int K);

// dlogits (N,K) += (probs - onehot(y)) / N
template <class T>
void softmax_xent_backward(T* dlogits, const T* probs, const int32_t* y, int N, int K);

// Number of rows whose argmax (first maximum) equals the label.
template <class T>
int count_correct(const T* logits, const int32_t* y, int N, int K);

// The argmax (first maximum) of row n of logits (N,K).
template <class T>
int row_argmax(const T* logits, int n, int K);

}  // namespace normlab
