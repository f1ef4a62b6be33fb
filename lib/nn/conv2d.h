#pragma once
// 2-D convolution, PyTorch nn.Conv2d layout: weight (OC, C, KH, KW), bias (OC).
#include "nn/layer.h"

namespace normlab {

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
// img (C, H, W) += col2im(col (C*KH*KW, OH*OW)), the adjoint of im2col.
template <class T>
void col2im_add(T* img, const T* col, const ConvGeom& g);

template <class T>
class Conv2D final : public Layer<T> {
 public:
  Conv2D(Shape in, int out_channels, int kernel, int stride = 1, int pad = 0, bool bias = true);
  std::string kind() const override { return "conv2d"; }
  std::vector<TensorSpec> params() const override;
  void reserve(int max_batch) override;
  void forward(T* out, const T* in, int N, Mode mode) override;
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;

 private:
  static constexpr int kChunks = 8;  // batch slices; fixed, so results do not depend on threads
  ConvGeom g_;
  bool bias_;
  std::vector<T> col_;      // (kChunks, K, P) im2col of one sample per slice
  std::vector<T> dcol_;     // (kChunks, K, P)
  std::vector<T> dw_part_;  // (kChunks, OC*K + OC) per-slice weight and bias gradients
};

}  // namespace normlab
