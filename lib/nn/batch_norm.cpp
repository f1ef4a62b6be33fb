// Batch norm and its variants over the shared core (norm_core.h), in PyTorch's conventions.
//
// Batch norm (Ioffe & Szegedy 2015), per channel c over the M = N*H*W values of a batch:
//   mu_B = mean x, var_B = mean (x - mu_B)^2 (biased), xhat = (x - mu_B)/sqrt(var_B + eps)
//   y = gamma*xhat + beta
//   running_mean = (1-m)*running_mean + m*mu_B
//   running_var  = (1-m)*running_var  + m*var_B*M/(M-1)     (unbiased, as PyTorch)
//   eval: mu = running_mean, sigma = sqrt(running_var + eps) in place of the batch's.
//
// ghost-batch (Hoffer, Hubara & Soudry 2017, "Train longer, generalize better", §4):
//   the batch is split into consecutive chunks of K samples, x[0:K], x[K:2K], ...;
//   the last chunk has N - K*floor(N/K) samples when K does not divide N. Each chunk
//   is batch-normalized on its own and updates the running averages once, in order,
//   with its own M (exactly BatchNorm applied to torch.split(x, K) in turn).
//
// batch-renorm (Ioffe 2017, "Batch Renormalization", §3, Algorithm 1), in training:
//   sigma_B = sqrt(var_B + eps), sigma = sqrt(running_var + eps)  (before this update)
//   r = clip(sigma_B/sigma, 1/r_max, r_max),  d = clip((mu_B - running_mean)/sigma, -d_max, d_max)
//   y = gamma*(xhat*r + d) + beta,  r and d constants in backward (stop-gradient)
//   warm-up: at training step t (= num_batches_tracked before the step) and W warm-up steps,
//     f = min(1, t/W) (f = 1 when W = 0),  r_max(t) = 1 + (r_max - 1)*f,  d_max(t) = d_max*f,
//   so the first step is plain batch norm. Running averages update as batch norm's.
//
// noisy-batch (Santurkar et al. 2018, "How Does Batch Normalization Help Optimization?",
// §2.1: noise of non-zero mean and non-unit variance whose distribution changes every
// step, injected after BN), in training, with a = noise_mean, b = noise_scale:
//   per step, the step's distribution:  mu_t ~ U(-a, a),  sigma_t ~ U(1, b)
//   per channel c:  m_c = mu_t + a*(2u - 1),  s_c = sigma_t^(2v - 1),   u, v ~ U[0, 1)
//     (shift uniform on [mu_t - a, mu_t + a]; scale log-uniform on [1/sigma_t, sigma_t])
//   y = s_c*(gamma*xhat + beta) + m_c,  s and m constants in backward.
//   Draw order from the layer's stream: mu_t, sigma_t, then (u, v) per channel, at
//   every train-mode forward (the trainer's activation probe runs one too).
//   a = 0 and b = 1 give plain batch norm.
//
// Renorm and noise both fold into the core's affine: y = (x - mu_B)*rstd_B*gamma' + beta'
// with gamma' = s*gamma*r, beta' = s*(gamma*d + beta) + m.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "nn/norm_layers.h"

namespace normlab {

template <class T>
BatchNorm<T>::BatchNorm(Shape in, const NormOptions& opt)
    : NormLayer<T>(in, opt), rng_(opt.seed, opt.stream) {
  this->proto_.over = NormDims::Over::batch;
  if (opt.ghost_batch < 1)
    throw NormError(fmt::format("ghost-batch: {} must be >= 1 (allowed: samples per chunk >= 1)",
                                opt.ghost_batch));
  if (!(opt.renorm_rmax >= 1) || !(opt.renorm_dmax >= 0) || opt.renorm_warmup < 0)
    throw NormError(fmt::format("renorm-rmax {}, renorm-dmax {}, renorm-warmup {} (allowed: "
                                "rmax >= 1, dmax >= 0, warmup >= 0)",
                                opt.renorm_rmax, opt.renorm_dmax, opt.renorm_warmup));
  if (!(opt.noise_mean >= 0) || !(opt.noise_scale >= 1))
    throw NormError(fmt::format("noise-mean {}, noise-scale {} (allowed: noise-mean >= 0, "
                                "noise-scale >= 1)", opt.noise_mean, opt.noise_scale));
}

template <class T>
std::vector<TensorSpec> BatchNorm<T>::buffers() const {
  const int C = this->in_.c;
  return {{"running_mean", {C}}, {"running_var", {C}}, {"num_batches_tracked", {}, true}};
}

template <class T>
int BatchNorm<T>::chunk(int N) const {
  return this->opt_.kind == NormKind::ghost_batch ? std::min(N, this->opt_.ghost_batch) : N;
}

template <class T>
void BatchNorm<T>::reserve(int max_batch) {
  const std::size_t C = std::size_t(this->in_.c);
  const int K = std::max(1, chunk(max_batch));
  const std::size_t n = std::size_t((max_batch + K - 1) / K) * C;  // (chunks, C)
  this->mean_.resize(n);
  this->rstd_.resize(n);
  this->var_.resize(n);
  for (auto* v : {&r_, &d_, &s_, &m_, &geff_, &beff_, &tg_, &tb_}) v->assign(C, T(0));
}

template <class T>
void BatchNorm<T>::reset_buffers() {
  const int C = this->in_.c;
  for (int c = 0; c < C; ++c) {
    this->buffer_[c] = T(0);
    this->buffer_[C + c] = T(1);
  }
  this->buffer_[2 * C] = T(0);
}

template <class T>
void BatchNorm<T>::renorm_correction(const T* mean, const T* var) {
  const int C = this->in_.c;
  const NormOptions& o = this->opt_;
  const double t = double(this->buffer_[2 * C]);
  const double f = o.renorm_warmup > 0 ? std::min(1.0, t / double(o.renorm_warmup)) : 1.0;
  const double rmax = 1 + (o.renorm_rmax - 1) * f, dmax = o.renorm_dmax * f;
  const T* rm = this->buffer_;
  const T* rv = this->buffer_ + C;
  for (int c = 0; c < C; ++c) {
    const double sigma = std::sqrt(double(rv[c]) + o.eps);
    const double sigma_b = std::sqrt(double(var[c]) + o.eps);
    r_[c] = T(std::clamp(sigma_b / sigma, 1 / rmax, rmax));
    d_[c] = T(std::clamp((double(mean[c]) - double(rm[c])) / sigma, -dmax, dmax));
  }
}

template <class T>
void BatchNorm<T>::draw_noise() {
  const int C = this->in_.c;
  if (given_scale_) {
    std::copy(given_scale_, given_scale_ + C, s_.begin());
    std::copy(given_shift_, given_shift_ + C, m_.begin());
    return;
  }
  const double a = this->opt_.noise_mean, b = this->opt_.noise_scale;
  const double mu_t = rng_.uniform(-a, a), sigma_t = rng_.uniform(1, b);
  for (int c = 0; c < C; ++c) {
    const double u = rng_.uniform(), v = rng_.uniform();
    m_[c] = T(mu_t + a * (2 * u - 1));
    s_[c] = T(std::pow(sigma_t, 2 * v - 1));
  }
}

template <class T>
void BatchNorm<T>::forward(T* out, const T* in, int N, Mode mode) {
  const int C = this->in_.c;
  const long S = this->proto_.S;
  T* rm = this->buffer_;
  T* rv = this->buffer_ + C;
  const T* gamma = this->opt_.affine ? this->param_ : nullptr;
  const T* beta = this->opt_.affine ? this->param_ + C : nullptr;
  const bool use_running =
      mode == Mode::eval || (mode == Mode::train && this->opt_.bn_train_uses_running);
  this->fixed_stats_ = use_running;
  transformed_ = false;
  if (use_running) {
    for (int c = 0; c < C; ++c) {
      this->mean_[c] = rm[c];
      this->rstd_[c] = T(1.0 / std::sqrt(double(rv[c]) + this->opt_.eps));
    }
    norm_apply(out, in, this->mean_.data(), this->rstd_.data(), gamma, beta, this->dims(N), ConvIsa::best,
               this->epi_);
    return;
  }
  const NormKind kind = this->opt_.kind;
  const bool train = mode == Mode::train;
  transformed_ = train && (kind == NormKind::batch_renorm || kind == NormKind::noisy_batch);
  const int K = chunk(N);
  for (int n0 = 0, k = 0; n0 < N; n0 += K, ++k) {
    const NormDims d = this->dims(std::min(K, N - n0));
    const long M = d.group_size();
    // In eval_batch_stats a single value per channel is allowed: it normalizes to 0.
    if (M < 2 && train)
      throw NormError(fmt::format(
          "batch norm in training needs more than one value per channel, got N={} x H*W={}{} "
          "(use a batch size of at least 2, or layer/group norm)",
          d.N, d.S, kind == NormKind::ghost_batch ? " in a ghost-batch chunk" : ""));
    const long off = long(n0) * C * S;  // first value of chunk k
    T* mean = this->mean_.data() + long(k) * C;  // (C)
    T* rstd = this->rstd_.data() + long(k) * C;  // (C)
    T* var = this->var_.data() + long(k) * C;    // (C)
    norm_stats(mean, rstd, var, in + off, d, this->opt_.eps);
    if (train) {
      if (kind == NormKind::batch_renorm) renorm_correction(mean, var);  // before the update
      const double m = this->opt_.momentum, unbias = double(M) / double(M - 1);
      for (int c = 0; c < C; ++c) {
        rm[c] = T((1 - m) * rm[c] + m * mean[c]);
        rv[c] = T((1 - m) * rv[c] + m * var[c] * unbias);
      }
      this->buffer_[2 * C] += T(1);
    }
    if (!transformed_) {
      norm_apply(out + off, in + off, mean, rstd, gamma, beta, d, ConvIsa::best, this->epi_);
      continue;
    }
    if (kind == NormKind::noisy_batch) {
      draw_noise();
      std::fill(r_.begin(), r_.end(), T(1));
      std::fill(d_.begin(), d_.end(), T(0));
    } else {
      std::fill(s_.begin(), s_.end(), T(1));
      std::fill(m_.begin(), m_.end(), T(0));
    }
    for (int c = 0; c < C; ++c) {
      const T g = gamma ? gamma[c] : T(1), b = beta ? beta[c] : T(0);
      geff_[c] = s_[c] * g * r_[c];
      beff_[c] = s_[c] * (g * d_[c] + b) + m_[c];
    }
    norm_apply(out + off, in + off, mean, rstd, geff_.data(), beff_.data(), d, ConvIsa::best, this->epi_);
  }
}

template <class T>
void BatchNorm<T>::backward(T* din, const T* dout, const T* in, const T*, int N) {
  const int C = this->in_.c;
  const long S = this->proto_.S;
  const T* gamma = this->opt_.affine ? this->param_ : nullptr;
  T* dgamma = this->opt_.affine ? this->grad_ : nullptr;
  T* dbeta = this->opt_.affine ? this->grad_ + C : nullptr;
  if (this->fixed_stats_) {
    norm_backward_fixed_stats(din, dgamma, dbeta, dout, in, this->mean_.data(), this->rstd_.data(),
                              gamma, this->dims(N));
    return;
  }
  const int K = chunk(N);
  for (int n0 = 0, k = 0; n0 < N; n0 += K, ++k) {
    const NormDims d = this->dims(std::min(K, N - n0));
    const long off = long(n0) * C * S;
    const T* mean = this->mean_.data() + long(k) * C;  // (C)
    const T* rstd = this->rstd_.data() + long(k) * C;  // (C)
    if (!transformed_) {
      norm_backward(din + off, dgamma, dbeta, dout + off, in + off, mean, rstd, gamma, d);
      continue;
    }
    std::fill(tg_.begin(), tg_.end(), T(0));
    std::fill(tb_.begin(), tb_.end(), T(0));
    norm_backward(din + off, tg_.data(), tb_.data(), dout + off, in + off, mean, rstd,
                  geff_.data(), d);
    // The core's dgamma' is sum dy*xhat, its dbeta' sum dy; chain through
    // gamma' = s*gamma*r, beta' = s*(gamma*d + beta) + m.
    if (dgamma)
      for (int c = 0; c < C; ++c) {
        dgamma[c] += s_[c] * (r_[c] * tg_[c] + d_[c] * tb_[c]);
        dbeta[c] += s_[c] * tb_[c];
      }
  }
}

template class BatchNorm<float>;
template class BatchNorm<double>;

}  // namespace normlab
