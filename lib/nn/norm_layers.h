#pragma once
// BatchNorm, LayerNorm and GroupNorm as layers over the shared core (norm_core.h).
// Three batch-norm variants are the same BatchNorm layer with one option more
// (batch_norm.cpp holds their math):
//   ghost-batch  statistics over consecutive chunks of K samples (Hoffer et al. 2017)
//   batch-renorm r, d corrections toward the running averages (Ioffe 2017)
//   noisy-batch  BN, then a random per-channel scale and shift (Santurkar et al. 2018)
// Parameters and buffers follow PyTorch's state_dict names and shapes:
//   BatchNorm2d/1d(C): weight (C), bias (C); running_mean (C), running_var (C), num_batches_tracked ()
//   LayerNorm((C,H,W)) : weight (C,H,W), bias (C,H,W)   [dense input: (F)]
//   GroupNorm(G, C)    : weight (C), bias (C)
#include <string>
#include <vector>

#include "nn/layer.h"
#include "nn/norm_core.h"
#include "tensor/rng.h"

namespace normlab {

enum class NormKind { none, batch, layer, group, ghost_batch, batch_renorm, noisy_batch };
// "none", "batch", "layer", "group", "ghost-batch", "batch-renorm", "noisy-batch";
// throws ConfigError naming the allowed values.
NormKind parse_norm_kind(const std::string& s);
// The kinds built as a BatchNorm layer (batch statistics, running averages).
inline bool is_batch_kind(NormKind k) {
  return k == NormKind::batch || k == NormKind::ghost_batch || k == NormKind::batch_renorm ||
         k == NormKind::noisy_batch;
}
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
  // ghost-batch: samples per statistics chunk (K >= 1). A batch of N uses
  // ceil(N/K) chunks, the last one N - K*floor(N/K) samples when K does not divide N.
  int ghost_batch = 32;
  // batch-renorm: limits of r (>= 1) and d (>= 0), reached linearly over
  // renorm_warmup training steps from r_max = 1, d_max = 0 (plain BN).
  double renorm_rmax = 3, renorm_dmax = 5;
  long renorm_warmup = 0;
  // noisy-batch: bounds of the noise schedule (batch_norm.cpp): shift scale >= 0, scale >= 1.
  double noise_mean = 0.5, noise_scale = 2;
  // Random stream of a noisy layer: same (seed, stream), same noise, step by step.
  uint64_t seed = 0, stream = 0;
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
  double scratch_numel(int max_batch) const override { return 3.0 * dims(max_batch).stat_count(); }
  // Accumulates (layer.h): din (N, in_shape), dgamma, dbeta (affine_size) +=.
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;
  bool backward_reads_output() const override { return false; }  // every norm: from x and its statistics
  // forward with the relu in norm_apply's pass (Epilogue::relu).
  bool forward_relu(T* out, const T* in, int N, Mode mode) override;
  const NormOptions& options() const { return opt_; }

 protected:
  NormDims dims(int N) const;
  NormDims proto_;       // N filled per call
  NormOptions opt_;
  std::vector<T> mean_;  // (stat_count) of the last forward
  std::vector<T> rstd_;  // (stat_count)
  std::vector<T> var_;   // (stat_count) biased, batch norm only
  bool fixed_stats_ = false;  // last forward normalized with constants (eval BN)
  Epilogue epi_ = Epilogue::none;  // what forward's norm_apply does after: relu within forward_relu
};

// Batch norm and its variants (opt.kind: ghost-batch, batch-renorm, noisy-batch; any
// other kind is plain batch norm).
// Buffers as PyTorch's BatchNorm: running_mean (C), running_var (C), num_batches_tracked ().
// Train-mode forward, per chunk of the batch (one chunk of N unless ghost-batch):
// batch statistics, running averages updated once (momentum, unbiased variance),
// num_batches_tracked += 1; then the normalization (renorm/noise in training only).
// eval: running averages, every variant alike. eval_batch_stats: each chunk's own
// statistics, no r/d correction, no noise, running averages untouched.
template <class T>
class BatchNorm final : public NormLayer<T> {
 public:
  // REQUIRES: ghost_batch >= 1, renorm_rmax >= 1,
  // renorm_dmax >= 0, renorm_warmup >= 0, noise_mean >= 0, noise_scale >= 1
  // (else NormError naming the key).
  BatchNorm(Shape in, const NormOptions& opt);
  std::string kind() const override { return "batchnorm"; }
  std::vector<TensorSpec> buffers() const override;
  void reserve(int max_batch) override;
  void reset_buffers() override;
  void forward(T* out, const T* in, int N, Mode mode) override;
  // Accumulates (layer.h). With r, d (renorm) or s, m (noise) held constant:
  //   y = s*(gamma*(r*xhat + d) + beta) + m,   xhat = (x - mu_B)*rstd_B
  //   dgamma += s*(r*sum dy*xhat + d*sum dy),  dbeta += s*sum dy,
  //   dx: the core's batch-norm backward with gamma' = s*gamma*r.
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;
  const T* running_mean() const { return this->buffer_; }
  const T* running_var() const { return this->buffer_ + this->in_.c; }
  T* running_mean() { return this->buffer_; }
  T* running_var() { return this->buffer_ + this->in_.c; }

  // Samples per statistics chunk for a batch of N (N itself unless ghost-batch).
  int chunk(int N) const;
  // Statistics of the last batch-statistics forward, chunk k at [k*C, (k+1)*C):
  // mean and biased variance, (ceil(N/chunk(N)), C).
  const T* batch_mean() const { return this->mean_.data(); }
  const T* batch_var() const { return this->var_.data(); }
  // Renorm corrections (r, d) and noise (s, m) of the last train forward, (C) each.
  const std::vector<T>& renorm_r() const { return r_; }
  const std::vector<T>& renorm_d() const { return d_; }
  const std::vector<T>& noise_scale() const { return s_; }
  const std::vector<T>& noise_shift() const { return m_; }

  // Test hook (noisy-batch): train forwards use scale (C) and shift (C) instead of
  // drawing; null returns to drawing. REQUIRES: both outlive their use.
  void use_given_noise(const T* scale, const T* shift) {
    given_scale_ = scale;
    given_shift_ = shift;
  }

  void rngs(std::vector<Rng*>& out) override { out.push_back(&rng_); }  // noisy-batch's draws

 private:
  void renorm_correction(const T* mean, const T* var);  // r_, d_ from running averages
  void draw_noise();                                    // s_, m_
  std::vector<T> r_, d_, s_, m_;  // (C) each; r = s = 1, d = m = 0 when unused
  std::vector<T> geff_, beff_;    // (C) gamma' = s*gamma*r, beta' = s*(gamma*d + beta) + m
  std::vector<T> tg_, tb_;        // (C) scratch: sum dy*xhat, sum dy of one chunk
  bool transformed_ = false;      // last forward applied geff_/beff_ instead of gamma/beta
  Rng rng_;
  const T* given_scale_ = nullptr;
  const T* given_shift_ = nullptr;
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
