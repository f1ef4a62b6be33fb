#pragma once
// BatchNorm, LayerNorm and GroupNorm as layers over the shared core (norm_core.h).
// Parameters and buffers follow PyTorch's state_dict names and shapes:
//   BatchNorm2d/1d(C): weight (C), bias (C); running_mean (C), running_var (C), num_batches_tracked ()
//   LayerNorm((C,H,W)) : weight (C,H,W), bias (C,H,W)   [dense input: (F)]
//   GroupNorm(G, C)    : weight (C), bias (C)
#include <string>
#include <vector>

#include "nn/layer.h"
#include "nn/norm_core.h"

namespace normlab {

enum class NormKind { none, batch, layer, group };
NormKind parse_norm_kind(const std::string& s);  // throws ConfigError naming none|batch|layer|group
std::string to_string(NormKind k);

struct NormOptions {
  NormKind kind = NormKind::none;
  int groups = 8;          // group norm only
  double eps = 1e-5;
  double momentum = 0.1;   // PyTorch form: weight of the NEW batch statistic
  bool affine = true;
  // Test-only fault injection: BN normalizes with its running averages in
  // training too. Exists so the claims baseline can prove it catches a broken build.
  bool bn_train_uses_running = false;
};

// "0.1" (PyTorch form, weight of the new value) or "keras:0.99" (Keras form,
// weight of the OLD value; converted to 1 - 0.99). Throws ConfigError outside (0, 1].
double parse_bn_momentum(const std::string& s);

template <class T>
class NormLayer : public Layer<T> {
 public:
  NormLayer(Shape in, const NormOptions& opt);
  std::vector<TensorSpec> params() const override;
  void reserve(int max_batch) override;
  // Accumulates (layer.h): din (N, in_shape), dgamma, dbeta (affine_size) +=.
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;
  const NormOptions& options() const { return opt_; }

 protected:
  NormDims dims(int N) const;
  NormDims proto_;       // N filled per call
  NormOptions opt_;
  std::vector<T> mean_;  // (stat_count) of the last forward
  std::vector<T> rstd_;  // (stat_count)
  std::vector<T> var_;   // (stat_count) biased, batch norm only
  bool fixed_stats_ = false;  // last forward normalized with constants (eval BN)
};

template <class T>
class BatchNorm final : public NormLayer<T> {
 public:
  BatchNorm(Shape in, const NormOptions& opt);
  std::string kind() const override { return "batchnorm"; }
  std::vector<TensorSpec> buffers() const override;
  void reset_buffers() override;
  void forward(T* out, const T* in, int N, Mode mode) override;
  const T* running_mean() const { return this->buffer_; }
  const T* running_var() const { return this->buffer_ + this->in_.c; }
};

// Layer and group norm: statistics per sample and group, in every mode, no
// running averages. One forward for both; they differ only in the index set
// (NormDims: LN is one group over C*H*W) and in the affine's shape.
template <class T>
class PerSampleNorm : public NormLayer<T> {
 public:
  using NormLayer<T>::NormLayer;
  void forward(T* out, const T* in, int N, Mode mode) override;
};

template <class T>
class LayerNorm final : public PerSampleNorm<T> {
 public:
  LayerNorm(Shape in, const NormOptions& opt);
  std::string kind() const override { return "layernorm"; }
};

template <class T>
class GroupNorm final : public PerSampleNorm<T> {
 public:
  // REQUIRES: opt.groups divides in.c (else NormError naming both numbers).
  GroupNorm(Shape in, const NormOptions& opt);
  std::string kind() const override { return "groupnorm"; }
};

}  // namespace normlab
