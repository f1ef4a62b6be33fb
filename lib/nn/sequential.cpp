// Sequential: layer i reads acts[i-1] (or the input) and writes acts[i];
// backward walks the chain in reverse, each layer accumulating into dacts[i-1].
#include "nn/sequential.h"

#include <algorithm>
#include <stdexcept>

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
void Sequential<T>::finalize(int max_batch) {
  if (max_batch < 1) throw std::invalid_argument("Sequential::finalize: max_batch < 1");
  max_batch_ = max_batch;
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
  acts_.clear();
  dacts_.clear();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    auto& l = *layers_[i];
    l.bind(params_.data() + param_off_[i], grads_.data() + param_off_[i],
           buffers_.data() + buffer_off_[i]);
    l.reserve(max_batch);
    acts_.emplace_back(std::size_t(max_batch) * l.out_shape().size());
    dacts_.emplace_back(std::size_t(max_batch) * l.out_shape().size());
  }
  const std::string k0 = layers_.empty() ? "" : layers_[0]->kind();
  first_takes_null_ = k0 == "linear" || k0 == "conv2d";
  dinput_.assign(first_takes_null_ ? 0 : std::size_t(max_batch) * input_.size(), T(0));
  reset_buffers();
}

template <class T>
void Sequential<T>::reset_buffers() {
  for (auto& l : layers_) l->reset_buffers();
}

template <class T>
const T* Sequential<T>::forward(const T* x, int N, Mode mode) {
  if (N < 1 || N > max_batch_) throw std::invalid_argument("Sequential::forward: bad batch size");
  input_ptr_ = x;
  const T* in = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    layers_[i]->forward(acts_[i].data(), in, N, mode);
    in = acts_[i].data();
  }
  return in;
}

template <class T>
void Sequential<T>::backward(const T* dlogits, int N) {
  const std::size_t L = layers_.size();
  for (std::size_t i = 0; i + 1 < L; ++i)
    std::fill_n(dacts_[i].begin(), std::size_t(N) * layers_[i]->out_shape().size(), T(0));
  for (std::size_t i = L; i-- > 0;) {
    const T* dout = i + 1 == L ? dlogits : dacts_[i].data();
    const T* in = i == 0 ? input_ptr_ : acts_[i - 1].data();
    // The input gradient is never wanted; dense and conv skip it on a null pointer.
    T* din = i > 0 ? dacts_[i - 1].data() : first_takes_null_ ? nullptr : dinput_.data();
    layers_[i]->backward(din, dout, in, acts_[i].data(), N);
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
