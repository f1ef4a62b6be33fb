#pragma once
// Precise population statistics for batch norm (Wu & Johnson 2021, "Rethinking
// 'Batch' in BatchNorm", §3.1 "PreciseBN"): with the weights frozen, run training
// batches through the model with batch statistics (as in training, but without
// touching the running averages; dropout off, as at inference), and per BN layer
// and channel pool what each batch (each ghost-batch chunk) normalized with:
//   mu  = sum_k M_k*mu_k / sum_k M_k
//   var = (sum_k M_k*(var_k + mu_k^2) / sum_k M_k - mu^2) * M/(M-1),   M = sum_k M_k
// (mu_k, var_k the biased mean and variance over the M_k values of batch k: mu and
// the bracket are the mean and biased variance of all M values pooled; the factor
// makes it unbiased, like PyTorch's running_var). These replace running_mean and
// running_var; eval mode then normalizes with them.
#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "nn/norm_layers.h"
#include "nn/sequential.h"

namespace normlab {

class PreciseBN {
 public:
  // Finds the model's batch-norm layers, those inside residual blocks too;
  // allocates the accumulators.
  explicit PreciseBN(Sequential<float>& model);
  bool empty() const { return layers_.empty(); }
  void reset();
  // One batch x (n, input_shape): forward with batch statistics, accumulate.
  // REQUIRES: n <= model.max_batch().
  void add(const float* x, int n);
  // Writes the pooled statistics into every BN layer's running_mean/var.
  // REQUIRES: at least one add() since reset().
  void finish();

 private:
  Sequential<float>& model_;
  std::vector<BatchNorm<float>*> layers_;  // the BN layers, in state_dict order
  std::vector<std::vector<double>> s0_;  // per layer: (1) sum M_k
  std::vector<std::vector<double>> s1_;  // per layer: (C) sum M_k*mu_k
  std::vector<std::vector<double>> s2_;  // per layer: (C) sum M_k*(var_k + mu_k^2)
};

// PreciseBN over `batches` training batches of `batch` samples, drawn without
// replacement from (seed, a stream of its own), the same batches at every call.
// The model's running averages are replaced (the caller saves them if needed).
void recompute_precise_bn(Sequential<float>& model, const Split& train, int batches, int batch,
                          uint64_t seed);

}  // namespace normlab
