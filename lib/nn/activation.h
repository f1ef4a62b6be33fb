#pragma once
// Elementwise activations and Flatten. Shape-preserving except Flatten,
// which views (C, H, W) as (C*H*W).
#include "nn/layer.h"

namespace normlab {

enum class ActKind { relu, sigmoid, tanh };
ActKind parse_activation(const std::string& s);  // throws ConfigError naming relu|sigmoid|tanh
std::string to_string(ActKind a);

template <class T>
class Activation final : public Layer<T> {
 public:
  Activation(Shape in, ActKind a) : Layer<T>(in), act_(a) {}
  std::string kind() const override { return to_string(act_); }
  ActKind act() const { return act_; }
  // relu: y = max(x, 0); sigmoid: y = 1/(1+e^-x); tanh: y = tanh x
  void forward(T* out, const T* in, int N, Mode mode) override;
  // dx += dy * f'(x), with f' from the output: 1[y>0], y(1-y), 1-y^2
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;
  // A fused relu's backward (Sequential, Keep::logits): d (N, in) = 0 + d * f'(out), written
  // over the output gradient d; the bytes backward gives into a zeroed din.
  // REQUIRES: act() == relu.
  void backward_in_place(T* d, const T* out, int N);

 private:
  ActKind act_;
};

// x (n) = relu(x): Activation's relu forward in place, its bytes (the conv epilogue).
template <class T>
void relu_in_place(T* x, long n);

template <class T>
class Flatten final : public Layer<T> {
 public:
  explicit Flatten(Shape in) : Layer<T>(in) { this->out_ = Shape{int(in.size()), 1, 1}; }
  std::string kind() const override { return "flatten"; }
  void forward(T* out, const T* in, int N, Mode mode) override;
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;
};

}  // namespace normlab
