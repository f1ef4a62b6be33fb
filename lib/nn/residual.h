#pragma once
// A basic residual block (He et al. 2016, "Deep Residual Learning", CIFAR nets),
// as torchvision's BasicBlock with the norm chosen by NormOptions:
//   h = act(norm1(conv1(x)))          conv1: 3x3, stride s, padding 1, width w
//   r = norm2(conv2(h))               conv2: 3x3, stride 1, padding 1, width w
//   k = x                             when the shape is kept (s = 1, C = w)
//     = norm_s(conv_s(x))             otherwise: a projection, 1x1 conv stride s
//                                     ("option B"; torchvision's downsample)
//   y = act(r + k)                    with the skip
//   y = act(r)                        without it (cnn-plain: no shortcut at all)
// A norm of kind none is left out (conv directly into the next step).
// state_dict names, in this order (PyTorch registration order of the mirror in
// scripts/make_fixtures.py): conv1.*, norm1.*, conv2.*, norm2.*, shortcut.0.*,
// shortcut.1.* (the norm ones only with a norm, shortcut.* only with a projection).
#include <memory>
#include <string>
#include <vector>

#include "nn/activation.h"
#include "nn/layer.h"
#include "nn/norm_layers.h"

namespace normlab {

template <class T>
class ResidualBlock final : public Layer<T> {
 public:
  // REQUIRES: width >= 1, stride 1 or 2; a group count that divides width (else
  // ConfigError/NormError from the norm layer). zero_init_last: the last layer of
  // the residual branch starts at zero (zero_init_last_layer), so the block starts
  // as its shortcut. norm.stream is the first of the block's random streams
  // (noisy batch norm): part i draws from stream + i.
  ResidualBlock(Shape in, int width, int stride, bool skip, ActKind act, const NormOptions& norm,
                bool zero_init_last);
  std::string kind() const override { return skip_ ? "resblock" : "plainblock"; }
  std::vector<TensorSpec> params() const override;
  std::vector<TensorSpec> buffers() const override;
  void bind(T* param, T* grad, T* buffer) override;
  void reserve(int max_batch) override;
  double scratch_numel(int max_batch) const override;
  void reset_buffers() override;
  void rngs(std::vector<Rng*>& out) override {
    for (auto& p : parts_) p.layer->rngs(out);
  }

  // out (N, w, H/s, W/s) from in (N, C, H, W).
  void forward(T* out, const T* in, int N, Mode mode) override;
  // Accumulates (layer.h): din (N, C, H, W) += the gradient through both paths;
  // every part's parameter gradients +=. din may be null (no input gradient).
  void backward(T* din, const T* dout, const T* in, const T* out, int N) override;

  // The layers the block is built from, in state_dict order: conv1, norm1, act1,
  // conv2, norm2 (the residual branch), then shortcut.0, shortcut.1 (projection).
  std::size_t num_parts() const { return parts_.size(); }
  Layer<T>& part(std::size_t i) { return *parts_[i].layer; }
  const Layer<T>& part(std::size_t i) const { return *parts_[i].layer; }
  const std::string& part_name(std::size_t i) const { return parts_[i].name; }
  // Offset of part i's parameters within the block's.
  std::size_t part_param_offset(std::size_t i) const { return parts_[i].param_off; }
  bool zero_init_last() const { return zero_init_last_; }
  // Sets the branch's last layer to zero: norm2's gamma with a norm, else
  // conv2's weight and bias (Fixup's zero init; Zhang et al. 2019). Called by
  // init_model after the block's parts are initialized, when zero_init_last().
  void zero_init_last_layer();

 private:
  struct Part {
    std::string name;  // state_dict prefix ("conv1"), "" for the activation
    std::unique_ptr<Layer<T>> layer;
    bool branch;  // residual branch (else the shortcut)
    std::size_t param_off = 0, buffer_off = 0;
    std::vector<T> act;  // (max_batch, out_shape): its output
  };
  template <class L, class... Args>
  void add(bool branch, const std::string& name, Shape in, Args&&... args);
  // Forward/backward of a chain of parts (the branch or the shortcut) from x.
  const T* chain_forward(bool branch, const T* x, int N, Mode mode);
  void chain_backward(bool branch, T* dx, const T* dlast, const T* x, int N);

  bool skip_, zero_init_last_;
  std::vector<Part> parts_;
  std::unique_ptr<Activation<T>> act_out_;  // y = act(r + k), in place on out
  std::vector<T> dz_;                      // (max_batch, out_shape): gradient of r + k
  // (max_batch, largest part output): a chain's inner gradients, used in turn (the
  // gradient a part reads is the one its successor wrote), so two serve every part.
  std::vector<T> grad_a_, grad_b_;
};

}  // namespace normlab
