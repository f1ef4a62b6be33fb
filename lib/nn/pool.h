#pragma once
// 2-D max and average pooling without padding (nn.MaxPool2d / nn.AvgPool2d,
// stride defaults to the kernel size). No parameters.
#include <cstdint>

#include "nn/layer.h"

namespace normlab {

template <class T>
class MaxPool2D final : public Layer<T> {
 public:
  MaxPool2D(Shape in, int kernel, int stride = 0);
  std::string kind() const override { return "maxpool2d"; }
  void reserve(int max_batch) override;
  double scratch_numel(int max_batch) const override { return double(max_batch) * this->out_.size(); }
  void forward(T* out, const T* in, int N, Mode mode) override;
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;

 private:
  int k_, s_;
  std::vector<int32_t> argmax_;  // (N, C, OH, OW) index into the input plane
};

template <class T>
class AvgPool2D final : public Layer<T> {
 public:
  AvgPool2D(Shape in, int kernel, int stride = 0);
  std::string kind() const override { return "avgpool2d"; }
  void forward(T* out, const T* in, int N, Mode mode) override;
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;

 private:
  int k_, s_;
};

}  // namespace normlab
