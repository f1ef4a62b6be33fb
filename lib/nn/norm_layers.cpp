// Norm layers: statistics and PyTorch conventions around the core.
//   LN, GN  : per-sample statistics in both modes; no running averages.
//   BN and its variants: batch_norm.cpp.
#include "nn/norm_layers.h"

#include "core/parse_number.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace normlab {

NormKind parse_norm_kind(const std::string& s) {
  if (s == "none") return NormKind::none;
  if (s == "batch" || s == "bn") return NormKind::batch;
  if (s == "layer" || s == "ln") return NormKind::layer;
  if (s == "group" || s == "gn") return NormKind::group;
  if (s == "ghost-batch") return NormKind::ghost_batch;
  if (s == "batch-renorm") return NormKind::batch_renorm;
  if (s == "noisy-batch") return NormKind::noisy_batch;
  throw ConfigError(fmt::format(
      "norm: unknown value '{}' (allowed: none, batch, layer, group, ghost-batch, batch-renorm, "
      "noisy-batch)", s));
}

std::string to_string(NormKind k) {
  switch (k) {
    case NormKind::none: return "none";
    case NormKind::batch: return "batch";
    case NormKind::layer: return "layer";
    case NormKind::group: return "group";
    case NormKind::ghost_batch: return "ghost-batch";
    case NormKind::batch_renorm: return "batch-renorm";
    case NormKind::noisy_batch: return "noisy-batch";
  }
  return "?";
}

double parse_bn_momentum(const std::string& s) {
  const bool keras = s.rfind("keras:", 0) == 0;
  const std::string num = keras ? s.substr(6) : s;
  double v = 0;
  try {
    v = parse_finite(num, "bn-momentum", "");
  } catch (const ConfigError&) {
    throw ConfigError(fmt::format(
        "bn-momentum: '{}' is not a number (allowed: 0 < m <= 1 in PyTorch form, e.g. 0.1, "
        "or keras:0.99 for the Keras form)", s));
  }
  const double m = keras ? 1.0 - v : v;
  if (!(m > 0.0 && m <= 1.0))
    throw ConfigError(fmt::format(
        "bn-momentum: '{}' gives a weight of {} on the new statistic (allowed: 0 < m <= 1)", s, m));
  return m;
}

template <class T>
NormLayer<T>::NormLayer(Shape in, const NormOptions& opt) : Layer<T>(in), opt_(opt) {
  proto_.C = in.c;
  proto_.S = in.spatial();
  if (!(opt.eps > 0)) throw NormError(fmt::format("eps: {} must be > 0", opt.eps));
}

template <class T>
NormDims NormLayer<T>::dims(int N) const {
  NormDims d = proto_;
  d.N = N;
  return d;
}

template <class T>
std::vector<TensorSpec> NormLayer<T>::params() const {
  if (!opt_.affine) return {};
  std::vector<int> shape = {this->in_.c};
  if (proto_.elementwise_affine && proto_.S > 1) shape = {this->in_.c, this->in_.h, this->in_.w};
  return {{"weight", shape}, {"bias", shape}};
}

template <class T>
void NormLayer<T>::reserve(int max_batch) {
  const std::size_t n = std::size_t(dims(max_batch).stat_count());
  mean_.resize(n);
  rstd_.resize(n);
  var_.resize(n);
}

template <class T>
bool NormLayer<T>::forward_relu(T* out, const T* in, int N, Mode mode) {
  struct Reset {  // back to none, also when forward throws
    Epilogue& e;
    ~Reset() { e = Epilogue::none; }
  } reset{epi_};
  epi_ = Epilogue::relu;
  this->forward(out, in, N, mode);
  return true;
}

template <class T>
void NormLayer<T>::backward(T* din, const T* dout, const T* in, const T*, int N) {
  const NormDims d = dims(N);
  const T* gamma = opt_.affine ? this->param_ : nullptr;
  T* dgamma = opt_.affine ? this->grad_ : nullptr;
  T* dbeta = opt_.affine ? this->grad_ + d.affine_size() : nullptr;
  if (fixed_stats_)
    norm_backward_fixed_stats(din, dgamma, dbeta, dout, in, mean_.data(), rstd_.data(), gamma, d);
  else
    norm_backward(din, dgamma, dbeta, dout, in, mean_.data(), rstd_.data(), gamma, d);
}

// ---- LayerNorm and GroupNorm: one forward ----

template <class T>
void PerSampleNorm<T>::forward(T* out, const T* in, int N, Mode) {
  // A sample's statistics need no other sample, so the batch goes through in
  // blocks of samples small enough to be still in cache when norm_apply reads
  // them again after norm_stats. Same values as one call over the whole batch.
  constexpr long kBlockBytes = 1 << 20;  // of x per block, about an L2 cache
  const long per_sample = long(this->in_.size());
  const int block = int(std::max(1L, kBlockBytes / long(sizeof(T)) / per_sample));
  const T* gamma = this->opt_.affine ? this->param_ : nullptr;
  const T* beta = this->opt_.affine ? this->param_ + this->dims(N).affine_size() : nullptr;
  for (int n0 = 0; n0 < N; n0 += block) {
    const NormDims d = this->dims(std::min(block, N - n0));
    const long x0 = long(n0) * per_sample;  // first value of the block
    const long s0 = long(n0) * d.groups;    // its first statistic
    T* mean = this->mean_.data() + s0;  // (nb, G)
    T* rstd = this->rstd_.data() + s0;  // (nb, G)
    norm_stats(mean, rstd, static_cast<T*>(nullptr), in + x0, d, this->opt_.eps);
    norm_apply(out + x0, in + x0, mean, rstd, gamma, beta, d, ConvIsa::best, this->epi_);
  }
  this->fixed_stats_ = false;
}

// LN: one group per sample, over (C, H, W); affine per element, as PyTorch's LayerNorm((C,H,W)).
template <class T>
LayerNorm<T>::LayerNorm(Shape in, const NormOptions& opt) : PerSampleNorm<T>(in, opt) {
  this->proto_.over = NormDims::Over::group;
  this->proto_.groups = 1;
  this->proto_.elementwise_affine = true;
}

// GN: G groups per sample, each over (C/G, H, W); affine per channel.
template <class T>
GroupNorm<T>::GroupNorm(Shape in, const NormOptions& opt) : PerSampleNorm<T>(in, opt) {
  if (opt.groups < 1 || in.c % opt.groups != 0)
    throw NormError(fmt::format(
        "groups: {} does not divide the {} channels of this layer (allowed: a divisor of {})",
        opt.groups, in.c, in.c));
  this->proto_.over = NormDims::Over::group;
  this->proto_.groups = opt.groups;
}

template class NormLayer<float>;
template class NormLayer<double>;
template class PerSampleNorm<float>;
template class PerSampleNorm<double>;
template class LayerNorm<float>;
template class LayerNorm<double>;
template class GroupNorm<float>;
template class GroupNorm<double>;

}  // namespace normlab
