// Dense: y = x W^T + b, with W stored (OUT, IN) as in PyTorch.
//   dx += dy W,  dW += dy^T x,  db += sum_n dy
// Both matrix products go through BLAS with beta = 1, so they accumulate; the
// bias gradient is a column sum. A float layer with a wide input and few outputs
// (dense_wide.h: the cnn's classifier) takes its own kernels instead.
#include "nn/dense.h"

#include <type_traits>

#include "core/errors.h"
#include "nn/dense_wide.h"
#include "tensor/gemm.h"

namespace normlab {

template <class T>
void dense_forward(T* out, const T* inp, const T* weight, const T* bias, int N, int IN, int OUT) {
  if constexpr (std::is_same_v<T, float>)
    if (dense_wide_applies(IN, OUT)) return dense_wide_forward(out, inp, weight, bias, N, IN, OUT);
  if (bias) {
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < OUT; ++o) out[long(n) * OUT + o] = bias[o];
  }
  gemm<T>(false, true, N, OUT, IN, T(1), inp, weight, bias ? T(1) : T(0), out);
}

template <class T>
void dense_backward(T* dinp, T* dweight, T* dbias, const T* dout, const T* inp, const T* weight,
                    int N, int IN, int OUT) {
  bool wide = false;  // the wide kernels take float layers only
  if constexpr (std::is_same_v<T, float>) {
    wide = dense_wide_applies(IN, OUT);
    if (wide) {
      if (dinp) dense_wide_data(dinp, dout, weight, N, IN, OUT);
      dense_wide_weight(dweight, dout, inp, N, IN, OUT);
    }
  }
  if (!wide) {
    if (dinp) gemm<T>(false, false, N, IN, OUT, T(1), dout, weight, T(1), dinp);
    gemm<T>(true, false, OUT, IN, N, T(1), dout, inp, T(1), dweight);
  }
  if (dbias) {
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < OUT; ++o) dbias[o] += dout[long(n) * OUT + o];
  }
}

template <class T>
Dense<T>::Dense(Shape in, int out_features, bool bias)
    : Layer<T>(in), in_f_(int(in.size())), out_f_(out_features), bias_(bias) {
  if (in.h != 1 || in.w != 1) throw ConfigError("dense layer needs flat input; add a flatten");
  if (out_features < 1) throw ConfigError("dense layer needs at least one output");
  this->out_ = Shape{out_features, 1, 1};
}

template <class T>
std::vector<TensorSpec> Dense<T>::params() const {
  std::vector<TensorSpec> p = {{"weight", {out_f_, in_f_}}};
  if (bias_) p.push_back({"bias", {out_f_}});
  return p;
}

template <class T>
void Dense<T>::forward(T* out, const T* in, int N, Mode) {
  dense_forward(out, in, this->param_, bias_ ? this->param_ + long(out_f_) * in_f_ : nullptr, N,
                in_f_, out_f_);
}

template <class T>
void Dense<T>::backward(T* din, const T* dout, const T* in, const T*, int N) {
  const long wsize = long(out_f_) * in_f_;
  dense_backward(din, this->grad_, bias_ ? this->grad_ + wsize : nullptr, dout, in, this->param_,
                 N, in_f_, out_f_);
}

template void dense_forward<float>(float*, const float*, const float*, const float*, int, int, int);
template void dense_forward<double>(double*, const double*, const double*, const double*, int, int,
                                    int);
template void dense_backward<float>(float*, float*, float*, const float*, const float*,
                                    const float*, int, int, int);
template void dense_backward<double>(double*, double*, double*, const double*, const double*,
                                     const double*, int, int, int);
template class Dense<float>;
template class Dense<double>;

}  // namespace normlab
