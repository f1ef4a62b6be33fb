#pragma once
// Direct convolution vectorized over channels, for the multi-channel and strided
// geometries (every layer after a first one-channel stride-1 layer, which
// conv_direct.h serves). No im2col and no matrix library: each product is a
// "broadcast-gather" sum over a fixed list of terms,
//   out[i][v] = sum over t, in order, of  Wt[t][v] * in[base[i] + delta[t]]
// with v running over channels (8 to a vector of floats) and i over pixels:
//   forward        i = output pixel p = (oh, ow), v = output channel o, t = (c, kh, kw);
//                  in = x zero-padded (C, HP, WP), base[p] = oh*s*WP + ow*s,
//                  delta = c*HP*WP + kh*WP + kw;   y[o, p] = acc + bias[o]
//   backward-data  i = input pixel q = (ih, iw), grouped by stride phase ((ih + pad) % s,
//                  (iw + pad) % s), whose taps kh = phase_h + j*s, kw = phase_w + j'*s are
//                  the only ones that reach it; v = input channel c, t = (o, kh, kw) over
//                  those taps; in = dy zero-padded (OC, RH, RW), so every tap of a phase
//                  reads at a fixed offset;   dx[c, q] += acc
//   weight grad    a sum over pixels instead: for each t = (c, kh, kw) and output channel o,
//                  dW[o, c, kh, kw] is one chain over the slice's samples n and their
//                  pixels p, in order: acc = fma(in_n[base[p] + delta[t]], dy_n[o, p], acc),
//                  starting from 0 per slice; the slices with samples are then summed in
//                  slice order, and that sum is added to dW (the bias gradient likewise,
//                  with plain adds over (n, p)).
// Summation order: every value above is one chain of std::fma in the order stated
// (exactly rounded on every CPU), so the vector path (AVX2 + FMA, float) and the
// portable one (any x86-64; double always) give the same bytes.
#include <cstddef>
#include <vector>

#include "nn/conv2d.h"

namespace normlab {

// Whether these kernels serve g: output channels a multiple of 8, input channels a
// multiple of 8 or one channel at a stride > 1, and not conv_direct_applies(g).
bool conv_gather_applies(const ConvGeom& g);

// The index tables of one geometry (built once per layer) and its workspace sizes.
struct ConvGatherPlan {
  int HP = 0, WP = 0;            // padded input plane
  int PT = 0, PL = 0, RH = 0, RW = 0;  // padded output-gradient plane: top and left padding, size
  std::vector<int> fwd_base;     // (P) offsets into one padded channel
  std::vector<int> fwd_delta;    // (K) forward terms (c, kh, kw)
  std::vector<int> fwd_row;      // (K) weight row of each term: 0, 1, ..., K-1
  struct Phase {
    std::vector<int> pixels;     // input pixels q = ih*W + iw of this phase
    std::vector<int> base;       // (pixels) offsets into one padded dy channel
    std::vector<int> delta, row; // terms (o, kh, kw): offset into padded dy, weight row o*KH*KW + kh*KW + kw
  };
  std::vector<Phase> phases;     // backward-data, one per stride phase (s*s)
  bool every_pixel_reached = false;  // the phases hold every input pixel (each once)
  int terms_padded = 0;          // K rounded up to the weight gradient's term block
  std::vector<int> wgrad_delta;  // (terms_padded) fwd_delta, then offsets 0 whose sums are unused
  std::size_t workspace = 0;     // floats of one slice's workspace
  std::size_t packed = 0;        // floats of the packed weights (both layouts)
  std::size_t parts = 0;         // floats of one slice's weight and bias gradients
};
ConvGatherPlan conv_gather_plan(const ConvGeom& g);

// The code path: ConvIsa (conv2d.h).

// out (N, OC, OH, OW) = conv(inp (N, C, H, W)) + bias, slices of kConvChunks; then epi on
// each sample's output right after it is written (conv2d.h).
//   ws (kConvChunks, plan.workspace), packed (plan.packed): workspaces
// REQUIRES: conv_gather_applies(g); plan = conv_gather_plan(g); bias may be null.
template <class T>
void conv_gather_forward(T* out, T* ws, T* packed, const T* inp, const T* weight, const T* bias, int N,
                         const ConvGeom& g, const ConvGatherPlan& plan, ConvIsa isa = ConvIsa::best,
                         Epilogue epi = Epilogue::none);

// Accumulates (+=): dinp (skipped if null), dweight (OC, C, KH, KW), dbias (skipped if null).
//   parts (kConvChunks, plan.parts): per-slice gradients, summed in slice order
// REQUIRES: as conv_gather_forward.
template <class T>
void conv_gather_backward(T* dinp, T* dweight, T* dbias, T* ws, T* packed, T* parts, const T* dout, const T* inp,
                          const T* weight, int N, const ConvGeom& g, const ConvGatherPlan& plan,
                          ConvIsa isa = ConvIsa::best);

}  // namespace normlab
