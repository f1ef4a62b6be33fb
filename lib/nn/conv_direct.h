#pragma once
// Direct convolution of one-channel inputs at stride 1, the first layer of the
// cnn, cnn-small, resnet and cnn-plain models: no im2col and no matrix product.
// With one input channel, im2col's K = KH*KW is 9, a shape on which a GEMM
// spends its time packing (cnn-none/b128: its conv products ran at 15-24 GFLOP/s
// against the sgemm probe's 80); here each output row is KH*KW fused multiply-
// adds over a vector of output columns, from a zero-padded copy of the plane.
//
// Summation order (fixed by these definitions, so the bytes are the same on
// every machine and for both code paths below):
//   forward, one sample:   acc = 0; for (kh, kw) in order: acc = fma(w[o,kh,kw], xp[oh+kh, ow+kw], acc)
//                          y[o,oh,ow] = acc + bias[o]            (acc alone without a bias)
//   weight gradient, one sample, for each (o, kh, kw): eight lanes, lane l holding
//                          the fma chain of dy[o,oh,ow] * xp[oh+kh, ow+kw] over the
//                          (oh, ow) with ow % 8 == l, in (oh, ow) order; then
//                          dW[o,kh,kw] += ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))
// xp is the input plane with `pad` zeros on every side.
#include "nn/conv2d.h"

namespace normlab {

// C == 1 and stride 1: the geometries these kernels serve.
bool conv_direct_applies(const ConvGeom& g);

// Floats of workspace one sample needs: the padded plane plus a vector of slack
// (the last column block of a row reads up to 7 values past the row's end).
std::size_t conv_direct_workspace(const ConvGeom& g);

// The code path: ConvIsa (conv2d.h); the portable one calls std::fma.

// y (OC, OH, OW) = conv(x (1, H, W)) + bias, one sample; ws: conv_direct_workspace(g) floats.
// REQUIRES: conv_direct_applies(g); bias may be null.
template <class T>
void conv_direct_forward(T* y, T* ws, const T* x, const T* weight, const T* bias, const ConvGeom& g,
                         ConvIsa isa = ConvIsa::best);

// dweight (OC, 1, KH, KW) += the weight gradient of one sample (order above).
// REQUIRES: as conv_direct_forward.
template <class T>
void conv_direct_weight_grad(T* dweight, T* ws, const T* dy, const T* x, const ConvGeom& g,
                             ConvIsa isa = ConvIsa::best);

}  // namespace normlab
