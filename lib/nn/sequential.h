#pragma once
// A chain of layers with every array it needs allocated once, up front:
//   params/grads (P)          flat, same layout, in state_dict order
//   buffers (B)               running statistics, in state_dict order
//   acts[i]                   (max_batch, out_shape of layer i)
//   dacts[i]                  (max_backward, out_shape of layer i); a flatten
//                             between layers aliases its input's instead
// forward then runs with no allocation for any N <= max_batch, backward for
// any N <= max_backward. max_backward is the training batch: evaluation
// batches are often 30x larger and never run backward, so their activation
// gradients would be memory zero-filled at build and never read.
#include <memory>
#include <string>
#include <vector>

#include "nn/layer.h"

namespace normlab {

// A tensor of the model's state_dict: PyTorch name ("1.running_mean"), spec,
// and where it lives in the flat arrays.
template <class T>
struct StateEntry {
  std::string name;
  TensorSpec spec;
  T* data;
  bool trainable;
};

// What a forward keeps. all: every layer's output (activation(i) is valid for each i).
// logits: what the logits and backward need, nothing more: a relu after a layer whose
// backward does not read its output (Layer::backward_reads_output) is fused into that
// layer, which writes into the relu's buffer, where the relu runs in place; backward
// then writes the relu's input gradient over its output gradient in one pass. Such a
// layer's activation(i) is not written. The bytes of every output kept, of the logits
// and of every gradient are the same under both.
enum class Keep { all, logits };

template <class T>
class Sequential {
 public:
  explicit Sequential(Shape input) : input_(input) {}

  // Appends a layer built on the current output shape: add<Dense<T>>(128).
  template <class L, class... Args>
  L& add(Args&&... args) {
    auto layer = std::make_unique<L>(output_shape(), std::forward<Args>(args)...);
    L& ref = *layer;
    layers_.push_back(std::move(layer));
    return ref;
  }
  // Allocates parameters, buffers and activations for forward batches up to
  // max_batch and backward batches up to max_backward (0: max_batch).
  // REQUIRES: 1 <= max_backward <= max_batch when given.
  // Parameters are zero and buffers at their defaults until initialized.
  void finalize(int max_batch, int max_backward = 0);
  // What finalize(max_batch, max_backward) and training would allocate, in
  // bytes, computed from the shapes alone (callable before finalize):
  // parameters four times (values, gradients, up to two optimizer moments),
  // buffers, each layer's activations at max_batch and their gradients at
  // max_backward, and each layer's scratch (im2col, the rnn's per-step
  // arrays: Layer::scratch_numel, at max_batch). A double: no overflow for
  // any shape. Refuses (std::invalid_argument) what finalize refuses.
  double memory_bytes(int max_batch, int max_backward = 0) const;

  Shape input_shape() const { return input_; }
  Shape output_shape() const { return layers_.empty() ? input_ : layers_.back()->out_shape(); }
  int max_batch() const { return max_batch_; }
  int max_backward() const { return max_backward_; }
  std::size_t num_layers() const { return layers_.size(); }
  Layer<T>& layer(std::size_t i) { return *layers_[i]; }
  const Layer<T>& layer(std::size_t i) const { return *layers_[i]; }

  // REQUIRES: finalize() called, N <= max_batch. Returns the logits (N, out).
  const T* forward(const T* x, int N, Mode mode, Keep keep = Keep::all);
  // Layers [first, last) only, x the input of layer `first`: their last output. For
  // first > 0, layer `first` must not be a flatten view. forward = forward_range(x, N, mode, 0, L).
  // A relu is fused (Keep::logits) only when its layer and it are both in the range.
  const T* forward_range(const T* x, int N, Mode mode, std::size_t first, std::size_t last,
                         Keep keep = Keep::all);
  // REQUIRES: N <= max_backward, the N of the last forward.
  // Accumulates parameter gradients from dlogits (N, out) for the last forward
  // (the caller zeroes them: zero_grad). Activation gradients are internal:
  // each is zeroed right before the layer that accumulates into it.
  void backward(const T* dlogits, int N);
  void zero_grad();

  // Output of layer i from the last forward: (N, layer(i).out_shape()). Not written for a
  // layer whose relu was fused in it (Keep::logits).
  const T* activation(std::size_t i) const { return out_[i]; }
  // Layer i + 1 is a relu that Keep::logits fuses into layer i.
  bool relu_fusable(std::size_t i) const { return i < fusable_.size() && fusable_[i]; }

  std::vector<T>& params() { return params_; }
  std::vector<T>& grads() { return grads_; }
  std::vector<T>& buffers() { return buffers_; }
  const std::vector<T>& params() const { return params_; }
  const std::vector<T>& buffers() const { return buffers_; }
  // Offset of layer i's parameters in params()/grads().
  std::size_t param_offset(std::size_t i) const { return param_off_[i]; }
  std::vector<StateEntry<T>> state();
  void reset_buffers();

 private:
  Shape input_;
  // Dense, conv and rnn skip the input gradient on a null pointer; another first layer needs dinput_.
  bool first_layer_skips_input_grad() const;
  void mark_fusable();  // fusable_ from the layers (finalize)
  int max_batch_ = 0, max_backward_ = 0;
  const T* input_ptr_ = nullptr;
  std::vector<std::unique_ptr<Layer<T>>> layers_;
  std::vector<T> params_, grads_, buffers_;
  std::vector<std::size_t> param_off_, buffer_off_;
  std::vector<std::vector<T>> acts_, dacts_;  // storage; empty for a view
  std::vector<T*> out_, dout_;                 // layer i's output and its gradient
  std::vector<bool> view_;                     // layer i is a flatten aliasing layer i-1
  bool first_takes_null_ = false;
  std::vector<bool> fusable_;  // layer i + 1 is a relu that may be fused into layer i
  std::vector<bool> fused_;    // ... and the last forward through layer i fused it
  std::vector<T> dinput_;  // scratch input gradient when layer 0 needs one to write
};

}  // namespace normlab
