#pragma once
// 2-D convolution, PyTorch nn.Conv2d layout: weight (OC, C, KH, KW), bias (OC).
// conv2d_forward / conv2d_backward are the kernels (as dense_forward /
// dense_backward); the Conv2D layer owns parameters and scratch and calls them.
// Argument order: outputs (workspaces last among them), inputs, parameters, dimensions.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nn/layer.h"

namespace normlab {

struct ConvGatherPlan;

// The code path of normlab's own convolution kernels (conv_direct.h, conv_gather.h) and
// wide dense products (dense_wide.h):
// `vector` is compiled for AVX2 + FMA, `portable` for any x86-64. They make the same
// operations in the same order, so they give the same bytes; `best` picks vector
// when conv_vector_supported().
enum class ConvIsa { best, vector, portable };
// What a kernel does to each value of its output before the next layer reads it: nothing,
// or a relu fused after it (Activation's select, on the stored value: the bytes of the two
// layers, one pass over the output fewer; Sequential, Keep::logits).
enum class Epilogue { none, relu };
// The CPU has AVX2 and FMA, and NORMLAB_CONV_ISA is not "portable" (a stand-in for a
// machine without them, for the same-bytes tests).
bool conv_vector_supported();
// NORMLAB_CONV_ISA's value when it is neither unset, empty, "portable" nor "best": the
// message naming the allowed values (main exits 2 with it before any command).
std::optional<std::string> conv_isa_env_problem();
// Whether isa takes the vector path.
bool conv_use_vector(ConvIsa isa);

struct ConvGeom {
  int C, H, W;        // input channels and size
  int OC, KH, KW;     // output channels, kernel
  int stride, pad;
  int OH() const { return (H + 2 * pad - KH) / stride + 1; }
  int OW() const { return (W + 2 * pad - KW) / stride + 1; }
  int K() const { return C * KH * KW; }  // rows of the im2col matrix
  int P() const { return OH() * OW(); }  // columns of the im2col matrix
};

// col (C*KH*KW, OH*OW) from one sample img (C, H, W); padding reads as 0.
template <class T>
void im2col(T* col, const T* img, const ConvGeom& g);
// img (C, H, W) += col2im(col (C*KH*KW, OH*OW)), the adjoint of im2col. The adds
// into each img element come in (c, kh, kw, oh) order: at most one per (c, kh, kw, oh).
template <class T>
void col2im_add(T* img, const T* col, const ConvGeom& g);

// How im2col and col2im_add walk a geometry. Every path copies the same values,
// and col2im_add's adds into each img element keep the (c, kh, kw, oh) order, so
// the path changes the time only, never a result byte.
//   rows:   one output row (c, kh, kw, oh) at a time; padding by column ranges
//   flat:   stride 1 and OW == W: row (c, kh, kw) of col is img's plane c shifted by
//           (kh - pad)*W + kw - pad, so one contiguous copy, then 0 at the columns
//           that wrapped into the next image row (col2im: one loop when no column wraps)
//   gather: through a table of input offsets for one channel, (KH*KW, OH*OW); for
//           strided geometries, whose short output rows made per-row work dominate
enum class Im2colPath { rows, flat, gather };
struct Im2colPlan {
  Im2colPath path = Im2colPath::rows;
  std::vector<int> table;  // gather only: ih*W + iw of (kh, kw, oh, ow), -1 for padding
};
// The path measured fastest for g; the second form forces one (flat REQUIRES
// stride 1 and OW == W).
Im2colPlan im2col_plan(const ConvGeom& g);
Im2colPlan im2col_plan(const ConvGeom& g, Im2colPath path);
template <class T>
void im2col(T* col, const T* img, const ConvGeom& g, const Im2colPlan& plan);
template <class T>
void col2im_add(T* img, const T* col, const ConvGeom& g, const Im2colPlan& plan);

// The batch is cut into this many fixed slices (run on the run's thread pool),
// so results do not depend on the thread count.
inline constexpr int kConvChunks = 8;

// A Conv2D keeps its forward's im2col of the whole batch for the backward when
// that takes at most this many values (max_batch*K*P); otherwise the backward
// recomputes it. Either way the same values reach the same products: the bytes
// do not depend on the choice, only the time (im2col was a quarter of a
// cnn-deep step) and the memory do.
inline constexpr double kConvKeepFloats = double(1 << 23);

// out (N, OC, OH, OW) = weight (OC, C*KH*KW) @ im2col(inp[n]) (C*KH*KW, OH*OW) + bias (OC),
// for each sample n.
//   out (N, OC, OH, OW)        output, overwritten
//   col (kConvChunks, K, P)    workspace: im2col of one sample per slice; or, when
//                              keep_col, (N, K, P): every sample's im2col, kept for
//                              conv2d_backward; or, when conv_direct_applies(g),
//                              (kConvChunks, conv_direct_workspace(g)) and keep_col unused
//   inp (N, C, H, W)           input
//   weight (OC, C, KH, KW)     parameter
//   bias (OC)                  parameter, or null for no bias
//   epi                        applied to each sample's output right after it is written
// REQUIRES: N >= 1; g.OH(), g.OW() >= 1; workspaces alias no other argument.
template <class T>
void conv2d_forward(T* out, T* col, const T* inp, const T* weight, const T* bias, int N,
                    const ConvGeom& g, const Im2colPlan& plan, bool keep_col = false,
                    Epilogue epi = Epilogue::none);

// Backward of conv2d_forward; accumulates (+=), as every backward:
//   dinp (N, C, H, W)          += col2im(weight^T @ dout[n])        (skipped if dinp is null)
//   dweight (OC, C, KH, KW)    += sum_n dout[n] @ im2col(inp[n])^T
//   dbias (OC)                 += sum over (n, oh, ow) of dout      (skipped if dbias is null)
//   col (kConvChunks, K, P)    workspace: im2col of one sample per slice; or, when
//                              kept_col, (N, K, P): the im2col conv2d_forward kept for inp;
//                              or, when conv_direct_applies(g), as in conv2d_forward
//   dcol (kConvChunks, K, P)   workspace: weight^T @ dout[n] per slice
//   parts (kConvChunks, OC*K + OC)  workspace: per-slice weight and bias gradients
//   dout (N, OC, OH, OW)       output gradient
//   inp (N, C, H, W)           the forward's input
//   weight (OC, C, KH, KW)     parameter
// Weight and bias gradients are summed per slice, then across slices in slice
// order, so the sums do not depend on the thread count.
// REQUIRES: as conv2d_forward; dinp aliases neither dout nor inp.
template <class T>
void conv2d_backward(T* dinp, T* dweight, T* dbias, T* col, T* dcol, T* parts, const T* dout,
                     const T* inp, const T* weight, int N, const ConvGeom& g, const Im2colPlan& plan,
                     bool kept_col = false);

template <class T>
class Conv2D final : public Layer<T> {
 public:
  Conv2D(Shape in, int out_channels, int kernel, int stride = 1, int pad = 0, bool bias = true);
  ~Conv2D() override;
  std::string kind() const override { return "conv2d"; }
  std::vector<TensorSpec> params() const override;
  void reserve(int max_batch) override;
  double scratch_numel(int max_batch) const override;
  void forward(T* out, const T* in, int N, Mode mode) override;
  // forward with the relu on each sample's output while it is in cache (Epilogue::relu).
  bool forward_relu(T* out, const T* in, int N, Mode mode) override;
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;
  bool backward_reads_output() const override { return false; }

 private:
  void forward_epi(T* out, const T* in, int N, Epilogue epi);
  ConvGeom g_;
  Im2colPlan plan_;
  bool bias_;
  // Set when conv_gather_applies(g_): the direct kernels of conv_gather.h serve the layer;
  // col_ is then their slice workspaces, dcol_ the packed weights, parts_ their per-slice gradients.
  std::unique_ptr<ConvGatherPlan> gplan_;
  // Workspaces, separate allocations (one shared block measured slower: conv-fwd +20%).
  std::vector<T> col_;    // (kConvChunks, K, P), or (max_batch, K, P) when keep_
  bool keep_ = false;     // max_batch*K*P <= kConvKeepFloats: forward keeps im2col for backward
  const T* kept_in_ = nullptr;  // the input whose im2col col_ holds (keep_ only)
  int kept_n_ = 0;
  std::vector<T> dcol_;   // (kConvChunks, K, P)
  std::vector<T> parts_;  // (kConvChunks, OC*K + OC)
};

}  // namespace normlab
