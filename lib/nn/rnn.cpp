// Elman RNN with a normalized recurrent pre-activation (see rnn.h).
//
// Forward, for x (N, T, D) read as T steps x_t (N, D), h_0 = 0:
//   a_t = x_t W_ih^T + h_{t-1} W_hh^T + b        (N, H)
//   z_t = norm_t(a_t)                            (identity for norm none)
//   h_t = tanh(z_t)
// The input products of all steps are one matrix product on the time-major
// copy of x: A (T*N, H) = X (T*N, D) W_ih^T. At batches up to kSmallRowsMax
// the per-step products h_{t-1} W_hh^T and da_t W_hh go to small_rows_product
// (tensor/small_rows.h), which needs no repacking of W_hh at every step.
//
// Backward through time, from dh_T = dout:
//   dz_t = dh_t * (1 - h_t^2)
//   da_t = norm_backward(dz_t)                   (dgamma, dbeta accumulate over t)
//   dh_{t-1} = da_t W_hh
// and then, all steps at once on the time-major stacks:
//   dW_ih += DA^T X,   dW_hh += sum_{t>=2} da_t^T h_{t-1},   db += colsum(DA),   dX = DA W_ih.
// Batch norm keeps one statistic and one running average per step and
// channel (running_x[t] = (1-m)*running_x[t] + m*batch_x[t], unbiased variance,
// as BatchNorm1d applied to a_t); layer and group norm are per sample, as everywhere.
#include "nn/rnn.h"

#include <Eigen/Core>
#include <cmath>
#include <fmt/format.h>

#include <type_traits>

#include "tensor/gemm.h"
#include "tensor/small_rows.h"

namespace normlab {

namespace {
// h (n) = tanh(h), in place, while the step's values are in cache.
// float: Eigen's vectorized rational approximation (a few ulp; the same code
// path, so the same bytes, on every machine a build runs on). Scalar tanhf
// was half of an rnn step's time. double (the gradient checks): std::tanh.
template <class T>
void tanh_inplace(T* h, long n) {
  if constexpr (std::is_same_v<T, float>) {
    Eigen::Map<Eigen::ArrayXf> a(h, n);
    a = a.tanh();
  } else {
    for (long i = 0; i < n; ++i) h[i] = std::tanh(h[i]);
  }
}
}  // namespace

template <class T>
RNN<T>::RNN(Shape in, int hidden, const NormOptions& opt)
    : Layer<T>(in), T_(in.h), D_(in.w), H_(hidden), opt_(opt) {
  if (in.c != 1)
    throw ConfigError(fmt::format(
        "model rnn reads a one-channel image row by row, got an input of {} (use an image dataset)",
        in.str()));
  if (hidden < 1) throw ConfigError(fmt::format("widths: rnn hidden width {} must be >= 1", hidden));
  if (opt.kind == NormKind::group && (opt.groups < 1 || hidden % opt.groups != 0))
    throw NormError(fmt::format(
        "groups: {} does not divide the {} features of the rnn's hidden layer (allowed: a divisor of {})",
        opt.groups, hidden, hidden));
  if (!(opt.eps > 0)) throw NormError(fmt::format("eps: {} must be > 0", opt.eps));
  has_norm_ = opt.kind != NormKind::none;
  affine_ = has_norm_ && opt.affine;
  this->out_ = Shape{hidden, 1, 1};
}

template <class T>
NormDims RNN<T>::dims(int N) const {
  NormDims d;
  d.N = N;
  d.C = H_;
  d.S = 1;
  d.over = opt_.kind == NormKind::batch ? NormDims::Over::batch : NormDims::Over::group;
  d.groups = opt_.kind == NormKind::group ? opt_.groups : 1;
  d.elementwise_affine = opt_.kind == NormKind::layer;  // (H) either way, as S = 1
  return d;
}

template <class T>
std::vector<TensorSpec> RNN<T>::params() const {
  std::vector<TensorSpec> p = {{"weight_ih", {H_, D_}}, {"weight_hh", {H_, H_}}, {"bias", {H_}}};
  if (affine_) {
    p.push_back({"norm.weight", {H_}});
    p.push_back({"norm.bias", {H_}});
  }
  return p;
}

template <class T>
std::vector<TensorSpec> RNN<T>::buffers() const {
  if (opt_.kind != NormKind::batch) return {};
  return {{"norm.running_mean", {T_, H_}},
          {"norm.running_var", {T_, H_}},
          {"norm.num_batches_tracked", {}, true}};
}

template <class T>
void RNN<T>::reset_buffers() {
  if (opt_.kind != NormKind::batch) return;
  const std::size_t n = std::size_t(T_) * H_;
  std::fill_n(this->buffer_, n, T(0));
  std::fill_n(this->buffer_ + n, n, T(1));
  this->buffer_[2 * n] = T(0);
}

template <class T>
void RNN<T>::reserve(int max_batch) {
  const std::size_t N = std::size_t(max_batch), TT = std::size_t(T_), H = std::size_t(H_);
  stats_ = dims(max_batch).stat_count();
  xt_.assign(TT * N * D_, T(0));
  a_.assign(TT * N * H, T(0));
  h_.assign((TT + 1) * N * H, T(0));
  mean_.assign(TT * stats_, T(0));
  rstd_.assign(TT * stats_, T(0));
  var_.assign(TT * stats_, T(0));
  da_.assign(TT * N * H, T(0));
  dz_.assign(N * H, T(0));
  dh_.assign(N * H, T(0));
  dxt_.assign(TT * N * D_, T(0));
  whh_t_.assign(H * H, T(0));
}

// What reserve allocates: xt, dxt (T, N, D); a, da (T, N, H); h (T+1, N, H);
// three statistics (T, stats); dz, dh (N, H); W_hh^T (H, H) for the few-row
// products (any batch may end in a short one). At width 20000 and batch 1000 the
// (T, N, H) arrays are 2.2 GB each: most of an rnn's memory.
template <class T>
double RNN<T>::scratch_numel(int max_batch) const {
  const double N = max_batch, TT = T_, H = H_, D = D_;
  const double stats = dims(max_batch).stat_count();
  return 2 * TT * N * D + 2 * TT * N * H + (TT + 1) * N * H + 3 * TT * stats + 2 * N * H + H * H;
}

template <class T>
void RNN<T>::forward(T* out, const T* in, int N, Mode mode) {
  const int TT = T_, D = D_, H = H_;
  const long NH = long(N) * H;
  const T* w_ih = this->param_;             // (H, D)
  const T* w_hh = w_ih + long(H) * D;       // (H, H)
  const T* bias = w_hh + long(H) * H;       // (H)
  const T* gamma = affine_ ? bias + H : nullptr;  // (H)
  const T* beta = affine_ ? bias + 2 * H : nullptr;  // (H)
  const NormDims d = dims(N);
  const bool batch = opt_.kind == NormKind::batch;
  const bool use_running =
      batch && (mode == Mode::eval || (mode == Mode::train && opt_.bn_train_uses_running));
  if (batch && !use_running && mode == Mode::train && N < 2)
    throw NormError(fmt::format(
        "batch norm in training needs more than one value per channel, got N={} in the rnn "
        "(use a batch size of at least 2, or layer/group norm)", N));

  // xt[t, n, :] = x[n, 0, t, :]
  for (int n = 0; n < N; ++n)
    for (int t = 0; t < TT; ++t)
      std::copy_n(in + (long(n) * TT + t) * D, D, xt_.data() + (long(t) * N + n) * D);
  T* A = a_.data();  // (T, N, H)
  gemm<T>(false, true, TT * N, H, D, T(1), xt_.data(), w_ih, T(0), A);
  std::fill_n(h_.data(), NH, T(0));  // h_0
  // Few rows: the recurrent products go to small_rows_product, on W_hh^T made once here.
  const bool small = N <= kSmallRowsMax;
  if (small)
    for (int j = 0; j < H; ++j)
      for (int k = 0; k < H; ++k) whh_t_[long(k) * H + j] = w_hh[long(j) * H + k];

  T* rm = this->buffer_;                     // (T, H) running_mean, batch norm only
  T* rv = batch ? rm + long(TT) * H : nullptr;  // (T, H) running_var
  const double m = opt_.momentum, unbias = double(N) / double(N - 1);
  for (int t = 0; t < TT; ++t) {
    T* at = A + t * NH;                      // (N, H)
    const T* hprev = h_.data() + t * NH;     // (N, H)
    T* ht = h_.data() + (t + 1) * NH;        // (N, H)
    for (int n = 0; n < N; ++n)
      for (int j = 0; j < H; ++j) at[long(n) * H + j] += bias[j];
    if (t > 0 && small)
      small_rows_product(at, hprev, whh_t_.data(), N, H, H, true);
    else if (t > 0)
      gemm<T>(false, true, N, H, H, T(1), hprev, w_hh, T(1), at);
    if (has_norm_) {
      T* mean = mean_.data() + long(t) * stats_;  // (stat_count)
      T* rstd = rstd_.data() + long(t) * stats_;  // (stat_count)
      if (use_running) {
        for (int c = 0; c < H; ++c) {
          mean[c] = rm[long(t) * H + c];
          rstd[c] = T(1.0 / std::sqrt(double(rv[long(t) * H + c]) + opt_.eps));
        }
      } else {
        T* var = var_.data() + long(t) * stats_;
        norm_stats(mean, rstd, batch ? var : static_cast<T*>(nullptr), at, d, opt_.eps);
        if (batch && mode == Mode::train)
          for (int c = 0; c < H; ++c) {
            T& rmc = rm[long(t) * H + c];
            T& rvc = rv[long(t) * H + c];
            rmc = T((1 - m) * rmc + m * mean[c]);
            rvc = T((1 - m) * rvc + m * var[c] * unbias);
          }
      }
      norm_apply(ht, at, mean, rstd, gamma, beta, d);
    } else {
      std::copy_n(at, NH, ht);
    }
    tanh_inplace(ht, NH);
  }
  if (batch && mode == Mode::train && !use_running) rm[2L * TT * H] += T(1);
  fixed_stats_ = use_running;
  std::copy_n(h_.data() + long(TT) * NH, NH, out);
}

template <class T>
void RNN<T>::backward(T* din, const T* dout, const T*, const T*, int N) {
  const int TT = T_, D = D_, H = H_;
  const long NH = long(N) * H;
  const T* w_ih = this->param_;                 // (H, D)
  const T* w_hh = w_ih + long(H) * D;           // (H, H)
  const T* gamma = affine_ ? w_hh + long(H) * H + H : nullptr;  // (H)
  T* dw_ih = this->grad_;                       // (H, D)
  T* dw_hh = dw_ih + long(H) * D;               // (H, H)
  T* dbias = dw_hh + long(H) * H;               // (H)
  T* dgamma = affine_ ? dbias + H : nullptr;    // (H)
  T* dbeta = affine_ ? dbias + 2 * H : nullptr; // (H)
  const NormDims d = dims(N);
  T* DA = da_.data();  // (T, N, H)

  std::copy_n(dout, NH, dh_.data());  // dh_T
  for (int t = TT - 1; t >= 0; --t) {
    const T* ht = h_.data() + (t + 1) * NH;  // (N, H)
    T* dat = DA + t * NH;                    // (N, H)
    T* dz = has_norm_ ? dz_.data() : dat;    // without a norm, da_t = dz_t
    for (long i = 0; i < NH; ++i) dz[i] = dh_[i] * (T(1) - ht[i] * ht[i]);
    if (has_norm_) {
      const T* at = a_.data() + t * NH;
      const T* mean = mean_.data() + long(t) * stats_;
      const T* rstd = rstd_.data() + long(t) * stats_;
      std::fill_n(dat, NH, T(0));
      if (fixed_stats_)
        norm_backward_fixed_stats(dat, dgamma, dbeta, dz, at, mean, rstd, gamma, d);
      else
        norm_backward(dat, dgamma, dbeta, dz, at, mean, rstd, gamma, d);
    }
    // dh_{t-1} = da_t W_hh (h_0 is no parameter's function: stop there)
    if (t > 0 && N <= kSmallRowsMax)
      small_rows_product(dh_.data(), dat, w_hh, N, H, H, false);
    else if (t > 0)
      gemm<T>(false, false, N, H, H, T(1), dat, w_hh, T(0), dh_.data());
  }
  gemm<T>(true, false, H, D, TT * N, T(1), DA, xt_.data(), T(1), dw_ih);
  // h_0 = 0 adds nothing: steps 2..T only
  if (TT > 1) gemm<T>(true, false, H, H, (TT - 1) * N, T(1), DA + NH, h_.data() + NH, T(1), dw_hh);
  for (long r = 0; r < long(TT) * N; ++r)
    for (int j = 0; j < H; ++j) dbias[j] += DA[r * H + j];
  if (din) {
    gemm<T>(false, false, TT * N, D, H, T(1), DA, w_ih, T(0), dxt_.data());
    // din[n, 0, t, :] += dxt[t, n, :]
    for (int n = 0; n < N; ++n)
      for (int t = 0; t < TT; ++t) {
        T* dst = din + (long(n) * TT + t) * D;
        const T* src = dxt_.data() + (long(t) * N + n) * D;
        for (int k = 0; k < D; ++k) dst[k] += src[k];
      }
  }
}

template class RNN<float>;
template class RNN<double>;

}  // namespace normlab
