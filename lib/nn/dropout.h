#pragma once
// Inverted dropout (Srivastava et al. 2014, "Dropout: A Simple Way to Prevent
// Neural Networks from Overfitting"), as PyTorch's nn.Dropout(p).
//   train: y = x * keep / (1 - p), keep ~ Bernoulli(1 - p) per element, drawn anew
//          each training forward from the layer's own stream of the run's seed (the
//          activation probe's train-mode forward restores the stream: Layer::rngs)
//   eval, eval_batch_stats: y = x (identity)
// No parameters or buffers, so it takes an index in the model as nn.Dropout does
// in nn.Sequential and adds nothing to the state_dict.
#include <cstdint>
#include <vector>

#include "nn/layer.h"
#include "tensor/rng.h"

namespace normlab {

template <class T>
class Dropout final : public Layer<T> {
 public:
  // REQUIRES: 0 <= p < 1 (else ConfigError naming dropout and the allowed range).
  // (seed, stream) pick the random stream: same pair, same masks, forward by forward.
  Dropout(Shape in, double p, uint64_t seed, uint64_t stream);
  std::string kind() const override { return "dropout"; }
  void reserve(int max_batch) override;
  double scratch_numel(int max_batch) const override { return double(max_batch) * this->in_.size(); }
  // train: out (N, in_shape) = in * mask; other modes copy.
  void forward(T* out, const T* in, int N, Mode mode) override;
  void rngs(std::vector<Rng*>& out) override { out.push_back(&rng_); }
  // din (N, in_shape) += dout * mask (train) or dout (other modes).
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;

  double p() const { return p_; }
  // Test hook: train-mode forwards use keep (N, in_shape) of 0/1 instead of
  // drawing; null returns to drawing. REQUIRES: keep outlives its use.
  void use_given_keep(const T* keep) { given_ = keep; }

 private:
  double p_;
  Rng rng_;
  const T* given_ = nullptr;
  std::vector<T> mask_;  // (max_batch, in_shape): 0 or 1/(1-p), from the last train forward
  bool masked_ = false;  // the last forward applied mask_
};

}  // namespace normlab
