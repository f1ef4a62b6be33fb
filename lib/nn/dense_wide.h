#pragma once
// A dense layer's three products when the input is wide and the outputs few
// (IN >= kWideMinIn, OUT <= kWideMaxOut: the cnn's 21632 -> 10 classifier). A BLAS
// packs these skinny shapes for a tile they fill a tenth of; here each product is
// one pass over the wide operand.
//
// Summation order, fixed, so the bytes are the same on every machine and for both
// code paths (x (N, IN), W (OUT, IN), y and dy (N, OUT), all row-major):
//   forward  y[n, o]  = b[o] + dot(x[n, :], W[o, :])        (b[o] = 0 without a bias)
//            dot(a, w): 8 lanes, lane l the fma chain over k = l, l+8, l+16, ... in
//            order from 0, the last block padded with zeros (fma(0, 0, acc)); then
//            ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7))
//   data     dx[n, k] = the fma chain over o in order of dy[n, o] * W[o, k], from dx[n, k]
//   weight   dW[o, k] = the fma chain over n in order of dy[n, o] * x[n, k], from dW[o, k]
// The data and weight products accumulate into dx and dW, as the layer contract asks.
#include "nn/conv2d.h"  // ConvIsa: the code path of normlab's own kernels

namespace normlab {

inline constexpr int kWideMinIn = 4096;
inline constexpr int kWideMaxOut = 16;

// Whether a dense layer of these sizes takes this kernel (float only; double keeps BLAS).
inline bool dense_wide_applies(int in_features, int out_features) {
  return in_features >= kWideMinIn && out_features <= kWideMaxOut;
}

// y (N, OUT) = x (N, IN) W^T + b; bias may be null. REQUIRES: y aliases nothing.
void dense_wide_forward(float* y, const float* x, const float* W, const float* bias, int N, int IN, int OUT,
                        ConvIsa isa = ConvIsa::best);
// dx (N, IN) += dy (N, OUT) W. REQUIRES: dx aliases neither dy nor W.
void dense_wide_data(float* dx, const float* dy, const float* W, int N, int IN, int OUT,
                     ConvIsa isa = ConvIsa::best);
// dW (OUT, IN) += dy^T x. REQUIRES: dW aliases neither dy nor x.
void dense_wide_weight(float* dW, const float* dy, const float* x, int N, int IN, int OUT,
                       ConvIsa isa = ConvIsa::best);

}  // namespace normlab
