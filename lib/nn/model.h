#pragma once
// The model zoo. Layer indices match the equivalent PyTorch nn.Sequential, so
// a state_dict name like "1.running_mean" means the same tensor in both.
//   mlp       [Linear(w) -> norm -> act] per hidden width -> Linear(classes)
//             (input flattened; default widths 128,64: the seed 784-128-64-10)
//   cnn       Conv(w0, 3x3) -> norm -> act -> Flatten -> Linear(classes)   (default w0 = 32)
//   cnn-small [Conv(w, 3x3, pad 1) -> norm -> act -> MaxPool(2)] per width -> Flatten -> Linear
//             (default widths 16,32)
//   cnn-deep  [Conv(w, 3x3, stride 2, pad 1) -> norm -> act] per width (3 or 4) -> Flatten -> Linear
//             (default widths 16,32,64: maps 14, 7, 4 on 28x28, so the last norm sees 4x4)
//   rnn       RNN(hidden, norm inside, tanh) -> Linear(classes): an Elman RNN reading the
//             image row by row (rnn.h); widths = the one hidden width (default 128);
//             the activation key does not apply (always tanh), placement must be "before"
//   resnet    Conv(w0, 3x3, pad 1) -> norm -> act, then three stages of `depth` basic residual
//             blocks (residual.h) of widths w0, w1, w2, the first block of stages 2 and 3 with
//             stride 2 and a 1x1-conv projection shortcut; AvgPool(global) -> Flatten -> Linear
//             (default widths 16,32,64, depth 1: maps 28, 14, 7 on 28x28; 6*depth + 2 layers deep)
//   cnn-plain the same net with every skip and projection left out (residual.h, skip = false)
//             Both: placement "before" only, no dropout.
// With placement "after", the norm follows the activation instead.
// With dropout p > 0, a Dropout(p) ends each hidden block (after its activation,
// and after its norm when that follows the activation): one more index per block,
// as nn.Dropout in nn.Sequential. p = 0 adds no layer.
#include <memory>
#include <string>
#include <vector>

#include "nn/activation.h"
#include "nn/norm_layers.h"
#include "nn/sequential.h"

namespace normlab {

// Zero init of each residual block's last layer (residual.h): automatic is on
// for resnet without a norm (Fixup's zero init), off otherwise.
enum class ZeroInitResidual { automatic, on, off };
ZeroInitResidual parse_zero_init_residual(const std::string& s);  // auto | true | false
std::string to_string(ZeroInitResidual z);

struct ModelConfig {
  std::string model = "mlp";
  std::vector<int> widths;  // empty: the model's default
  ActKind activation = ActKind::relu;
  NormOptions norm;
  std::string placement = "before";  // norm before or after the activation
  Shape input{1, 28, 28};
  int classes = 10;
  double dropout = 0;  // drop probability in [0, 1)
  int depth = 1;       // resnet, cnn-plain: blocks per stage
  ZeroInitResidual zero_init_residual = ZeroInitResidual::automatic;
  // Seed of the random layers (dropout, noisy batch norm); layer i draws from stream
  // (seed, kLayerStream + i), so same seed, same masks and noise.
  uint64_t seed = 0;
};
inline constexpr uint64_t kLayerStream = 0x6c61796572000000ull;

std::vector<int> default_widths(const std::string& model);

// Throws ConfigError (unknown model or placement, widths that do not fit,
// a group count that does not divide a layer's channels).
// The model runs forward on up to max_batch samples and backward on up to
// max_backward (0: max_batch; Sequential::finalize).
template <class T>
std::unique_ptr<Sequential<T>> build_model(const ModelConfig& cfg, int max_batch, int max_backward = 0);

// Bytes build_model<float>(cfg, max_batch, max_backward) and training it would
// take (Sequential::memory_bytes), estimated from the layer shapes without
// allocating the model. Throws ConfigError as build_model does.
double model_memory_bytes(const ModelConfig& cfg, int max_batch, int max_backward = 0);

// Indices of the layers whose output is a hidden pre-activation (the input of
// each hidden activation), for the activation probes.
template <class T>
std::vector<std::size_t> preactivation_layers(const Sequential<T>& model);

// The parameter ranges [begin, end) in model.params() of every dense and conv layer
// but the last (the hidden weight layers: weight and bias), in layer order. In the
// models a norm follows each of them, so with a norm the network's function does
// not change when one of them is scaled by c > 0 (van Laarhoven 2017); scale-hidden
// (train/run_config.h) scales them. REQUIRES: a top-level chain (no residual blocks).
template <class T>
std::vector<std::pair<std::size_t, std::size_t>> hidden_weight_ranges(const Sequential<T>& model);

// sqrt(sum over the hidden weight layers l of ||W_l||_F^2): the weight matrices (or
// conv kernels) of hidden_weight_ranges, biases left out. With a norm after each
// layer the function depends on W_l / ||W_l|| only, so the gradient shrinks as
// 1/||W_l|| and the effective step is lr / ||W_l||^2 (van Laarhoven 2017); weight
// decay pulls ||W_l|| to an equilibrium. NaN for a model with weight layers inside
// blocks (rnn, resnet, cnn-plain), whose hidden weights are not all top-level.
template <class T>
double hidden_weight_norm(const Sequential<T>& model);

// ||W||_F^2 of top-level layer i's first parameter tensor (its weight), summed in double
// in storage order. REQUIRES: layer i has parameters.
template <class T>
double weight_sq_norm(const Sequential<T>& model, std::size_t i);

}  // namespace normlab
