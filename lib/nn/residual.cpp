// Basic residual block (residual.h): two parallel chains of existing layers and a sum.
//   forward:  r = branch(x); k = shortcut(x) (x itself for the identity);
//             y = act(r + k), the sum written into out and the activation applied in place
//   backward: dz = act'(y) * dy; the branch and the shortcut each take dz as the
//             gradient of their last output, and both accumulate into dx (the
//             identity: dx += dz). A chain's inner gradients are zeroed right
//             before the part that accumulates into them, as in Sequential, and
//             live in two buffers used in turn (each is read once, by the part before).
#include "nn/residual.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/errors.h"
#include "nn/conv2d.h"

namespace normlab {

template <class T>
template <class L, class... Args>
void ResidualBlock<T>::add(bool branch, const std::string& name, Shape in, Args&&... args) {
  Part p;
  p.name = name;
  p.layer = std::make_unique<L>(in, std::forward<Args>(args)...);
  p.branch = branch;
  if (!parts_.empty()) {
    const Part& q = parts_.back();
    std::size_t np = 0, nb = 0;
    for (const auto& s : q.layer->params()) np += s.numel();
    for (const auto& s : q.layer->buffers()) nb += s.numel();
    p.param_off = q.param_off + np;
    p.buffer_off = q.buffer_off + nb;
  }
  parts_.push_back(std::move(p));
}

template <class T>
ResidualBlock<T>::ResidualBlock(Shape in, int width, int stride, bool skip, ActKind act,
                                const NormOptions& norm, bool zero_init_last)
    : Layer<T>(in), skip_(skip), zero_init_last_(zero_init_last) {
  if (width < 1 || (stride != 1 && stride != 2))
    throw ConfigError(fmt::format("residual block: width {} stride {} (allowed: width >= 1, stride 1 or 2)",
                                  width, stride));
  auto norm_part = [&](bool branch, const std::string& name, Shape s) {
    NormOptions o = norm;
    o.stream = norm.stream + parts_.size();
    switch (o.kind) {
      case NormKind::none: break;
      case NormKind::batch:
      case NormKind::ghost_batch:
      case NormKind::batch_renorm:
      case NormKind::noisy_batch: add<BatchNorm<T>>(branch, name, s, o); break;
      case NormKind::layer: add<LayerNorm<T>>(branch, name, s, o); break;
      case NormKind::group: add<GroupNorm<T>>(branch, name, s, o); break;
    }
  };
  add<Conv2D<T>>(true, "conv1", in, width, 3, stride, 1);
  const Shape mid = parts_.back().layer->out_shape();
  norm_part(true, "norm1", mid);
  add<Activation<T>>(true, "", mid, act);
  add<Conv2D<T>>(true, "conv2", mid, width, 3, 1, 1);
  norm_part(true, "norm2", mid);
  if (skip_ && (stride != 1 || in.c != width)) {  // projection: 1x1 conv, stride s (option B)
    add<Conv2D<T>>(false, "shortcut.0", in, width, 1, stride, 0);
    if (parts_.back().layer->out_shape().size() != mid.size())
      throw ConfigError(fmt::format("residual block: the shortcut of input {} does not match the branch's {}",
                                    in.str(), mid.str()));
    norm_part(false, "shortcut.1", mid);
  }
  this->out_ = mid;
  act_out_ = std::make_unique<Activation<T>>(mid, act);
}

template <class T>
std::vector<TensorSpec> ResidualBlock<T>::params() const {
  std::vector<TensorSpec> out;
  for (const auto& p : parts_)
    for (auto s : p.layer->params()) {
      s.name = p.name + "." + s.name;
      out.push_back(s);
    }
  return out;
}

template <class T>
std::vector<TensorSpec> ResidualBlock<T>::buffers() const {
  std::vector<TensorSpec> out;
  for (const auto& p : parts_)
    for (auto s : p.layer->buffers()) {
      s.name = p.name + "." + s.name;
      out.push_back(s);
    }
  return out;
}

template <class T>
void ResidualBlock<T>::bind(T* param, T* grad, T* buffer) {
  Layer<T>::bind(param, grad, buffer);
  for (auto& p : parts_) p.layer->bind(param + p.param_off, grad + p.param_off, buffer + p.buffer_off);
}

template <class T>
void ResidualBlock<T>::reserve(int max_batch) {
  std::size_t widest = 0;
  for (auto& p : parts_) {
    p.layer->reserve(max_batch);
    p.act.assign(std::size_t(max_batch) * p.layer->out_shape().size(), T(0));
    widest = std::max(widest, p.act.size());
  }
  dz_.assign(std::size_t(max_batch) * this->out_.size(), T(0));
  grad_a_.assign(widest, T(0));
  grad_b_.assign(widest, T(0));
}

template <class T>
double ResidualBlock<T>::scratch_numel(int max_batch) const {
  double widest = 0, n = double(max_batch) * this->out_.size();  // dz
  for (const auto& p : parts_) {
    const double a = double(max_batch) * p.layer->out_shape().size();
    n += p.layer->scratch_numel(max_batch) + a;
    widest = std::max(widest, a);
  }
  return n + 2 * widest;  // grad_a, grad_b
}

template <class T>
void ResidualBlock<T>::reset_buffers() {
  for (auto& p : parts_) p.layer->reset_buffers();
}

template <class T>
void ResidualBlock<T>::zero_init_last_layer() {
  auto find = [&](const char* name) -> Part* {
    for (auto& p : parts_)
      if (p.name == name) return &p;
    return nullptr;
  };
  Part* p = find("norm2");
  if (p && p->layer->params().empty())
    throw ConfigError("zero-init-residual: the block's last norm has no gamma to zero with affine = false "
                      "(allowed: affine = true, or zero-init-residual = auto or false)");
  if (!p) p = find("conv2");
  std::size_t n = 0;
  for (const auto& s : p->layer->params()) n += s.numel();
  if (p->name == "norm2") n = p->layer->params()[0].numel();  // gamma only; beta is 0 already
  std::fill_n(this->param_ + p->param_off, n, T(0));
}

template <class T>
const T* ResidualBlock<T>::chain_forward(bool branch, const T* x, int N, Mode mode) {
  const T* in = x;
  for (auto& p : parts_) {
    if (p.branch != branch) continue;
    p.layer->forward(p.act.data(), in, N, mode);  // (N, part out_shape)
    in = p.act.data();
  }
  return in;
}

template <class T>
void ResidualBlock<T>::chain_backward(bool branch, T* dx, const T* dlast, const T* x, int N) {
  std::size_t idx[8];  // parts of this chain in order (at most 5)
  int m = 0;
  for (std::size_t i = 0; i < parts_.size(); ++i)
    if (parts_[i].branch == branch) idx[m++] = i;
  T* bufs[2] = {grad_a_.data(), grad_b_.data()};
  const T* g = dlast;  // gradient of the current part's output
  for (int j = m, k = 0; j-- > 0; k ^= 1) {
    Part& p = parts_[idx[j]];
    const Part* prev = j > 0 ? &parts_[idx[j - 1]] : nullptr;
    T* din = prev ? bufs[k] : dx;  // (N, part in_shape); never g, which is bufs[k ^ 1] or dlast
    if (prev) std::fill_n(din, std::size_t(N) * p.layer->in_shape().size(), T(0));
    p.layer->backward(din, g, prev ? prev->act.data() : x, p.act.data(), N);
    g = din;
  }
}

template <class T>
void ResidualBlock<T>::forward(T* out, const T* in, int N, Mode mode) {
  const T* r = chain_forward(true, in, N, mode);  // (N, w, OH, OW)
  const std::size_t n = std::size_t(N) * this->out_.size();
  if (!skip_) {
    std::copy_n(r, n, out);
  } else {
    const bool projected = parts_.back().branch == false;
    const T* k = projected ? chain_forward(false, in, N, mode) : in;  // (N, w, OH, OW)
    for (std::size_t i = 0; i < n; ++i) out[i] = r[i] + k[i];
  }
  act_out_->forward(out, out, N, mode);  // elementwise, so in place
}

template <class T>
void ResidualBlock<T>::backward(T* din, const T* dout, const T* in, const T* out, int N) {
  const std::size_t n = std::size_t(N) * this->out_.size();
  std::fill_n(dz_.data(), n, T(0));
  act_out_->backward(dz_.data(), dout, out, out, N);  // dz (N, w, OH, OW) = act'(y) * dy
  chain_backward(true, din, dz_.data(), in, N);
  if (!skip_) return;
  if (parts_.back().branch == false) {
    chain_backward(false, din, dz_.data(), in, N);
  } else if (din) {
    for (std::size_t i = 0; i < n; ++i) din[i] += dz_[i];  // identity: same shape as the input
  }
}

template class ResidualBlock<float>;
template class ResidualBlock<double>;

}  // namespace normlab
