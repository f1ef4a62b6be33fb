#pragma once
// Elman RNN (tanh) over the rows of an image, with a norm on the recurrent
// pre-activation, as one layer of a Sequential: it reads (1, T, D) (T rows of
// D pixels, e.g. MNIST: 28 steps of 28) and outputs the last hidden state (H).
//   a_t = W_ih x_t + W_hh h_{t-1} + b       h_0 = 0
//   h_t = tanh(norm_t(a_t))                 t = 1..T; output h_T
// norm_t: none; batch (statistics and running averages per time step t, one
// gamma/beta shared by all steps: Cooijmans et al., "Recurrent Batch
// Normalization"); layer (over the H features of each sample, Ba et al.);
// group (G groups of H/G features per sample). All through norm_core.
//
// state_dict names (inside the model, prefixed "0."), as the PyTorch module
// NormRNN of scripts/make_fixtures.py:
//   weight_ih (H, D), weight_hh (H, H), bias (H)
//   norm.weight (H), norm.bias (H)                       unless norm none or affine off
//   norm.running_mean (T, H), norm.running_var (T, H),   batch norm only
//   norm.num_batches_tracked ()
#include <vector>

#include "nn/layer.h"
#include "nn/norm_layers.h"

namespace normlab {

template <class T>
class RNN final : public Layer<T> {
 public:
  // REQUIRES: in.c == 1 (rows of a one-channel image), hidden >= 1;
  // group norm: opt.groups divides hidden (else NormError naming both).
  RNN(Shape in, int hidden, const NormOptions& opt);
  std::string kind() const override { return "rnn"; }
  std::vector<TensorSpec> params() const override;
  std::vector<TensorSpec> buffers() const override;
  void reserve(int max_batch) override;
  double scratch_numel(int max_batch) const override;
  void reset_buffers() override;
  int steps() const { return T_; }
  int hidden() const { return H_; }
  const NormOptions& norm_options() const { return opt_; }

  // out (N, H) = h_T for in (N, 1, T, D). Train mode with batch norm updates
  // the running averages of every step (and num_batches_tracked once).
  void forward(T* out, const T* in, int N, Mode mode) override;
  // Backpropagation through all T steps, for the last forward (its input `in`);
  // accumulates (+=) into din (N, 1, T, D) (skipped if null) and the parameter
  // gradients.
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;

 private:
  NormDims dims(int N) const;
  int T_, D_, H_;
  NormOptions opt_;
  bool has_norm_, affine_;
  int stats_ = 0;         // statistics per step at max_batch: H (batch) or max_batch*G
  bool fixed_stats_ = false;
  // Scratch for max_batch, allocated once by reserve (time-major layouts):
  std::vector<T> xt_;     // (T, N, D)    the input, time-major
  std::vector<T> a_;      // (T, N, H)    pre-activations a_t
  std::vector<T> h_;      // (T+1, N, H)  hidden states h_0 = 0, h_1..h_T
  std::vector<T> mean_;   // (T, stats)   norm statistics of each step
  std::vector<T> rstd_;   // (T, stats)
  std::vector<T> var_;    // (T, stats)   biased variance (batch norm)
  std::vector<T> da_;     // (T, N, H)    gradient of the pre-activations
  std::vector<T> whh_t_;  // (H, H)       W_hh^T, for small_rows_product at batches <= kSmallRowsMax
  std::vector<T> dz_;     // (N, H)       gradient of the normalized pre-activation
  std::vector<T> dh_;     // (N, H)       gradient of h_t
  std::vector<T> dxt_;    // (T, N, D)    input gradient, time-major
};

}  // namespace normlab
