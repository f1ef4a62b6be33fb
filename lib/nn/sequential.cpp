// Sequential: layer i reads acts[i-1] (or the input) and writes acts[i];
// backward walks the chain in reverse, each layer accumulating into dacts[i-1].
// A flatten between two layers is a view: its acts/dacts are its input's, so it
// costs no copy forward and no add backward. Backward has one protocol, +=
// (layer.h): dacts[i-1] is zeroed (a memset) right before layer i's backward,
// its only writer. Keep::logits fuses a relu into the layer before it:
//   forward   layer i writes acts[i+1], with the relu in its own pass (Layer::forward_relu:
//             the norms) or in place after it (acts[i] unwritten)
//   backward  dacts[i+1] = 0 + relu'(acts[i+1]) * dacts[i+1] in place, then layer i reads
//             dacts[i+1] as its output gradient: the values the zeroed dacts[i] would hold,
//             without its memset and one of the two passes over it.
#include "nn/sequential.h"

#include <algorithm>
#include <stdexcept>

#include "nn/activation.h"

namespace normlab {

namespace {
template <class T>
std::size_t total(const std::vector<TensorSpec>& specs) {
  std::size_t n = 0;
  for (const auto& s : specs) n += s.numel();
  return n;
}
}  // namespace

template <class T>
bool Sequential<T>::first_layer_skips_input_grad() const {
  const std::string k0 = layers_.empty() ? "" : layers_[0]->kind();
  return k0 == "linear" || k0 == "conv2d" || k0 == "rnn";
}

namespace {
// max_backward as finalize and memory_bytes take it: 0 means max_batch; anything
// outside 1..max_batch is refused by both alike.
int resolved_backward(const char* caller, int max_batch, int max_backward) {
  if (max_backward == 0) max_backward = max_batch;
  if (max_batch < 1 || max_backward < 1 || max_backward > max_batch)
    throw std::invalid_argument(std::string("Sequential::") + caller + ": need 1 <= max_backward <= max_batch");
  return max_backward;
}
}  // namespace

template <class T>
double Sequential<T>::memory_bytes(int max_batch, int max_backward) const {
  max_backward = resolved_backward("memory_bytes", max_batch, max_backward);
  auto numel = [](const std::vector<TensorSpec>& specs) {
    double n = 0;
    for (const auto& s : specs) {
      double e = 1;
      for (int d : s.shape) e *= double(d);
      n += e;
    }
    return n;
  };
  double params = 0, buffers = 0, acts = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const auto& l = *layers_[i];
    params += numel(l.params());
    buffers += numel(l.buffers());
    if (!(l.kind() == "flatten" && i > 0 && i + 1 < layers_.size()))
      acts += double(max_batch + max_backward) * double(l.out_shape().size());
    acts += l.scratch_numel(max_batch);
  }
  acts += double(max_batch) * double(input_.size());  // the input batch itself
  if (!first_layer_skips_input_grad()) acts += double(max_backward) * double(input_.size());  // dinput_
  return double(sizeof(T)) * (4 * params + buffers + acts);
}

template <class T>
void Sequential<T>::finalize(int max_batch, int max_backward) {
  max_backward = resolved_backward("finalize", max_batch, max_backward);
  max_batch_ = max_batch;
  max_backward_ = max_backward;
  std::size_t np = 0, nb = 0;
  param_off_.clear();
  buffer_off_.clear();
  for (auto& l : layers_) {
    param_off_.push_back(np);
    buffer_off_.push_back(nb);
    np += total<T>(l->params());
    nb += total<T>(l->buffers());
  }
  params_.assign(np, T(0));
  grads_.assign(np, T(0));
  buffers_.assign(nb, T(0));
  const std::size_t L = layers_.size();
  acts_.assign(L, {});
  dacts_.assign(L, {});
  out_.assign(L, nullptr);
  dout_.assign(L, nullptr);
  view_.assign(L, false);
  for (std::size_t i = 0; i < L; ++i) {
    auto& l = *layers_[i];
    l.bind(params_.data() + param_off_[i], grads_.data() + param_off_[i],
           buffers_.data() + buffer_off_[i]);
    l.reserve(max_batch);
    view_[i] = l.kind() == "flatten" && i > 0 && i + 1 < L;
    if (view_[i]) {  // same memory, (N, C*H*W) instead of (N, C, H, W)
      out_[i] = out_[i - 1];
      dout_[i] = dout_[i - 1];
      continue;
    }
    acts_[i].assign(std::size_t(max_batch) * l.out_shape().size(), T(0));
    dacts_[i].assign(std::size_t(max_backward) * l.out_shape().size(), T(0));
    out_[i] = acts_[i].data();
    dout_[i] = dacts_[i].data();
  }
  mark_fusable();
  first_takes_null_ = first_layer_skips_input_grad();
  dinput_.assign(first_takes_null_ ? 0 : std::size_t(max_backward) * input_.size(), T(0));
  reset_buffers();
}

template <class T>
void Sequential<T>::reset_buffers() {
  for (auto& l : layers_) l->reset_buffers();
}

template <class T>
void Sequential<T>::mark_fusable() {
  const std::size_t L = layers_.size();
  fusable_.assign(L, false);
  fused_.assign(L, false);
  // Not a relu that is the last layer: backward overwrites its output gradient, which
  // there is the caller's dlogits.
  for (std::size_t i = 0; i + 2 < L; ++i) {
    const auto* act = dynamic_cast<const Activation<T>*>(layers_[i + 1].get());
    fusable_[i] = act && act->act() == ActKind::relu && !view_[i] && !layers_[i]->backward_reads_output();
  }
}

template <class T>
const T* Sequential<T>::forward(const T* x, int N, Mode mode, Keep keep) {
  return forward_range(x, N, mode, 0, layers_.size(), keep);
}

template <class T>
const T* Sequential<T>::forward_range(const T* x, int N, Mode mode, std::size_t first, std::size_t last,
                                      Keep keep) {
  if (N < 1 || N > max_batch_) throw std::invalid_argument("Sequential::forward: bad batch size");
  if (first >= last || last > layers_.size() || view_[first])
    throw std::invalid_argument("Sequential::forward_range: bad layer range");
  if (first == 0) input_ptr_ = x;
  const T* in = x;
  for (std::size_t i = first; i < last; ++i) {
    fused_[i] = keep == Keep::logits && fusable_[i] && i + 1 < last;
    if (fused_[i]) {  // layer i into the relu's buffer, the relu in its pass or in place after
      if (!layers_[i]->forward_relu(out_[i + 1], in, N, mode)) {
        layers_[i]->forward(out_[i + 1], in, N, mode);
        layers_[i + 1]->forward(out_[i + 1], out_[i + 1], N, mode);
      }
      in = out_[++i];
      continue;
    }
    if (!view_[i]) layers_[i]->forward(out_[i], in, N, mode);
    in = out_[i];
  }
  return in;
}

template <class T>
void Sequential<T>::backward(const T* dlogits, int N) {
  if (N < 1 || N > max_backward_) throw std::invalid_argument("Sequential::backward: bad batch size");
  const std::size_t L = layers_.size();
  for (std::size_t i = L; i-- > 0;) {
    if (view_[i]) continue;  // the next layer already wrote dout_[i - 1]
    const T* dout = i + 1 == L ? dlogits : dout_[i];
    if (i > 0 && fused_[i - 1]) {  // a fused relu: its input gradient over its output gradient
      static_cast<Activation<T>&>(*layers_[i]).backward_in_place(dout_[i], out_[i], N);
      continue;
    }
    if (fused_[i]) dout = dout_[i + 1];  // layer i's output gradient is its relu's, done in place
    const T* in = i == 0 ? input_ptr_ : out_[i - 1];
    // The input gradient is never wanted; dense and conv skip it on a null pointer.
    T* din = i > 0 ? dout_[i - 1] : first_takes_null_ ? nullptr : dinput_.data();
    if (din) std::fill_n(din, std::size_t(N) * layers_[i]->in_shape().size(), T(0));
    layers_[i]->backward(din, dout, in, out_[i], N);
  }
}

template <class T>
void Sequential<T>::zero_grad() {
  std::fill(grads_.begin(), grads_.end(), T(0));
}

template <class T>
std::vector<StateEntry<T>> Sequential<T>::state() {
  std::vector<StateEntry<T>> out;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::size_t off = param_off_[i];
    for (const auto& s : layers_[i]->params()) {
      out.push_back({std::to_string(i) + "." + s.name, s, params_.data() + off, true});
      off += s.numel();
    }
    off = buffer_off_[i];
    for (const auto& s : layers_[i]->buffers()) {
      out.push_back({std::to_string(i) + "." + s.name, s, buffers_.data() + off, false});
      off += s.numel();
    }
  }
  return out;
}

template class Sequential<float>;
template class Sequential<double>;

}  // namespace normlab
