#pragma once
// The layer contract shared by every module of a Sequential model.
//
// Argument order everywhere: outputs, inputs, parameters, dimensions.
// Buffers are NCHW, batch N first; `Shape` is the per-sample shape.
// forward  writes `out` (N, out_shape) from `in` (N, in_shape).
// backward ACCUMULATES (+=) into `din` (N, in_shape) and into the layer's
//          parameter gradients. There is no overwriting variant: zeroing is a
//          separate step, done by the caller (Sequential zeroes each
//          activation gradient before the layer that writes it; zero_grad
//          zeroes the parameter gradients once per step).
// Parameters, gradients and non-trainable buffers (running statistics) are
// slices of flat model-wide arrays handed out by `bind`, in state_dict order.
#include <algorithm>
#include <string>
#include <vector>

#include "tensor/rng.h"
#include "tensor/shape.h"

namespace normlab {

// train: batch norm normalizes with the batch's statistics and updates its
//        running averages. eval: it uses the running averages.
// eval_batch_stats: inference with the batch's own statistics, running
//        averages untouched (the train-vs-inference measurement).
enum class Mode { train, eval, eval_batch_stats };

// One named tensor of a layer, as PyTorch's state_dict names it ("weight").
struct TensorSpec {
  std::string name;
  std::vector<int> shape;
  bool integer = false;  // stored as int64 in checkpoints (num_batches_tracked)
  std::size_t numel() const {
    std::size_t n = 1;
    for (int d : shape) n *= std::size_t(d);
    return n;
  }
};

template <class T>
class Layer {
 public:
  explicit Layer(Shape in) : in_(in), out_(in) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  virtual std::string kind() const = 0;
  Shape in_shape() const { return in_; }
  Shape out_shape() const { return out_; }

  virtual std::vector<TensorSpec> params() const { return {}; }   // trainable
  virtual std::vector<TensorSpec> buffers() const { return {}; }  // saved, not trained
  // REQUIRES: param/grad hold sum(params().numel()), buffer sum(buffers().numel()).
  virtual void bind(T* param, T* grad, T* buffer) {
    param_ = param;
    grad_ = grad;
    buffer_ = buffer;
  }
  // Allocates per-batch scratch once, so forward/backward never allocate.
  virtual void reserve(int max_batch) { (void)max_batch; }
  // Elements (of T, or of a type no larger) reserve(max_batch) allocates, from
  // the shapes alone: the memory estimate counts it (Sequential::memory_bytes).
  virtual double scratch_numel(int max_batch) const { (void)max_batch; return 0; }
  // Default values for buffers (running_var = 1, ...), before any training.
  virtual void reset_buffers() {}
  // The layer's random streams (dropout's masks, noisy BN's draws), appended to out. A
  // train-mode forward that is not a training step (the activation probe) saves and restores
  // them, so that how often a run is evaluated never changes the draws its training sees.
  virtual void rngs(std::vector<Rng*>& out) { (void)out; }

  virtual void forward(T* out, const T* in, int N, Mode mode) = 0;
  // `out` is what forward wrote for this `in`; some layers need only one of them.
  // `din` may be null for the first layer of a model (no input gradient wanted);
  // dense, conv and rnn layers then skip that product.
  virtual void backward(T* din, const T* dout, const T* in, const T* out, int N) = 0;
  // False when backward never reads `out`. Such a layer may have a relu after it fused
  // (Sequential, Keep::logits): it then writes its output into the relu's buffer, where
  // the relu runs in place, and its own output is not kept.
  virtual bool backward_reads_output() const { return true; }
  // forward, then out = relu(out), in one pass where the layer can (Sequential, Keep::logits):
  // the bytes of forward and Activation's relu. Returns false, having done nothing, where not.
  virtual bool forward_relu(T* out, const T* in, int N, Mode mode) {
    (void)out, (void)in, (void)N, (void)mode;
    return false;
  }

 protected:
  Shape in_, out_;
  T* param_ = nullptr;
  T* grad_ = nullptr;
  T* buffer_ = nullptr;
};

}  // namespace normlab
