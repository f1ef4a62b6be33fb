#pragma once
// Fully connected layer, PyTorch nn.Linear layout: weight (OUT, IN), bias (OUT).
#include "nn/layer.h"

namespace normlab {

// out (N,OUT) = inp (N,IN) @ weight (OUT,IN)^T + bias (OUT)
// bias may be null (no bias).
template <class T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, int N, int IN, int OUT);
// Accumulates (+=), as every backward:
//   dinp (N,IN) += dout (N,OUT) @ weight (OUT,IN)   (skipped if dinp is null)
//   dweight (OUT,IN) += dout^T @ inp (N,IN)
//   dbias (OUT) += colsum(dout)                      (skipped if dbias is null)
template <class T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                    int N, int IN, int OUT);

template <class T>
class Dense final : public Layer<T> {
 public:
  // REQUIRES: in is flat (h == w == 1); use Flatten before it.
  Dense(Shape in, int out_features, bool bias = true);
  std::string kind() const override { return "linear"; }
  std::vector<TensorSpec> params() const override;
  void forward(T* out, const T* in, int N, Mode mode) override;
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;
  bool backward_reads_output() const override { return false; }

 private:
  int in_f_, out_f_;
  bool bias_;
};

}  // namespace normlab
