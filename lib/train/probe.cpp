// Probe statistics per hidden pre-activation z (all N x features values):
//   mean, std (population), and the exact 15th/50th/85th percentiles,
//   p(q) = z_(k) + f * (z_(k+1) - z_(k)),  k + f = q * (count - 1), z sorted;
// the same percentiles of unit 0 alone (feature 0 of a dense layer, N values;
// channel 0 of a conv layer, N x H x W values), as in Ioffe & Szegedy's
// figure 1, which follows one typical sigmoid input; and of all values in eval
// mode (the running averages), the distribution the trained network infers with.
// Per row also ||W||_F of the dense or conv weight producing z (the layer's own, or
// the one directly before a norm layer): nn/model.h weight_sq_norm.
#include "train/probe.h"

#include <algorithm>
#include <array>
#include <boost/accumulators/accumulators.hpp>
#include <boost/accumulators/statistics/mean.hpp>
#include <boost/accumulators/statistics/stats.hpp>
#include <boost/accumulators/statistics/variance.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "nn/model.h"
#include "nn/norm_layers.h"

namespace normlab {

namespace acc = boost::accumulators;

namespace {
bool has_weight(const std::string& kind) { return kind == "linear" || kind == "conv2d"; }

// ||W||_F of the weight producing layer i's output (see the file's head); NaN when there is none.
double producing_weight_norm(const Sequential<float>& model, std::size_t i) {
  if (!has_weight(model.layer(i).kind())) {
    if (i == 0 || !dynamic_cast<const NormLayer<float>*>(&model.layer(i))) return std::nan("");
    if (!has_weight(model.layer(--i).kind())) return std::nan("");
  }
  return std::sqrt(weight_sq_norm(model, i));
}
}  // namespace

namespace {
// The order statistic of rank r, by selection on what is left above the last rank:
// after nth_element at r, [r, end) holds exactly ranks r.. n-1. A rank below the
// last one (q's k after the previous q's k + 1) selects over the whole vector.
struct SelectRanks {
  std::vector<float>& v;
  std::size_t from = 0;
  float operator()(std::size_t r) {
    std::nth_element(v.begin() + long(r >= from ? from : 0), v.begin() + long(r), v.end());
    from = r;
    return v[r];
  }
};

// Floats as unsigned keys in the same order (negatives reversed): the top 16 bits
// (sign, exponent, 7 mantissa bits) bucket the values.
uint32_t order_key(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// The same ranks by bucket: one pass counts the values per bucket, a second copies
// out the buckets that hold a wanted rank, and selection runs inside each of those.
// -0 and +0 are equal to <, and key order puts -0 first; the value is the same.
class BucketRanks {
 public:
  explicit BucketRanks(const std::vector<float>& v) : v_(v), count_(kBuckets, 0) {
    for (float x : v) ++count_[order_key(x) >> 16];
    below_.resize(kBuckets + 1, 0);
    for (std::size_t b = 0; b < kBuckets; ++b) below_[b + 1] = below_[b] + count_[b];
  }
  void want(std::size_t r) { wanted_.push_back(bucket_of(r)); }
  void gather() {
    std::sort(wanted_.begin(), wanted_.end());
    wanted_.erase(std::unique(wanted_.begin(), wanted_.end()), wanted_.end());
    members_.assign(wanted_.size(), {});
    for (std::size_t j = 0; j < wanted_.size(); ++j) members_[j].reserve(count_[wanted_[j]]);
    std::vector<uint8_t> slot(kBuckets, 0);  // 1 + the wanted bucket's index, 0 if not wanted
    for (std::size_t j = 0; j < wanted_.size(); ++j) slot[wanted_[j]] = uint8_t(j + 1);
    for (float x : v_)
      if (const uint8_t j = slot[order_key(x) >> 16]) members_[j - 1].push_back(x);
  }
  float operator()(std::size_t r) {
    const std::size_t b = bucket_of(r);
    auto& m = members_[std::size_t(std::lower_bound(wanted_.begin(), wanted_.end(), b) - wanted_.begin())];
    const std::size_t i = r - below_[b];
    std::nth_element(m.begin(), m.begin() + long(i), m.end());
    return m[i];
  }

 private:
  static constexpr std::size_t kBuckets = std::size_t(1) << 16;
  std::size_t bucket_of(std::size_t r) const {
    return std::size_t(std::upper_bound(below_.begin(), below_.end(), r) - below_.begin()) - 1;
  }
  const std::vector<float>& v_;
  std::vector<std::size_t> count_, below_, wanted_;
  std::vector<std::vector<float>> members_;
};

// Below this many values a few selections beat two passes and a 64k-bucket table.
constexpr std::size_t kBucketFrom = 1 << 15;

template <class Ranks>
void interpolate(Ranks& rank, std::size_t n, std::span<const double> qs, std::span<double> out) {
  for (std::size_t j = 0; j < qs.size(); ++j) {
    const double pos = qs[j] * double(n - 1);
    const std::size_t k = std::size_t(std::floor(pos));
    const double f = pos - double(k);
    const double lo = rank(k);
    out[j] = f == 0.0 || k + 1 >= n ? lo : lo + f * (double(rank(k + 1)) - lo);
  }
}
}  // namespace

void percentiles(std::vector<float>& v, std::span<const double> qs, std::span<double> out) {
  if (v.size() < kBucketFrom) {
    SelectRanks rank{v};
    interpolate(rank, v.size(), qs, out);
    return;
  }
  BucketRanks rank(v);
  for (double q : qs) {
    const double pos = q * double(v.size() - 1);
    const std::size_t k = std::size_t(std::floor(pos));
    rank.want(k);
    if (k + 1 < v.size()) rank.want(k + 1);
  }
  rank.gather();
  interpolate(rank, v.size(), qs, out);
}

double percentile(std::vector<float>& v, double q) {
  double r = 0;
  percentiles(v, std::span<const double>(&q, 1), std::span<double>(&r, 1));
  return r;
}

namespace {
constexpr std::array<double, 3> kProbeQs = {0.15, 0.50, 0.85};
}  // namespace

ActivationProbe::ActivationProbe(const Sequential<float>& model, std::vector<float> x, int n)
    : x_(std::move(x)), n_(n), layers_(preactivation_layers(model)) {
  std::size_t biggest = 0;
  for (auto i : layers_) biggest = std::max(biggest, model.layer(i).out_shape().size());
  scratch_.reserve(biggest * std::size_t(n));
  saved_buffers_.reserve(model.buffers().size());
}

void ActivationProbe::measure(Sequential<float>& model, long step,
                              std::vector<ActivationPoint>& out) {
  // The probe's train-mode forward leaves no trace: running statistics and random streams
  // (dropout masks, noisy BN's draws) are restored, so training never depends on how often
  // it is probed.
  if (!rngs_found_) {
    for (std::size_t i = 0; i < model.num_layers(); ++i) model.layer(i).rngs(rngs_);
    saved_rngs_.reserve(rngs_.size());
    rngs_found_ = true;
  }
  saved_buffers_.assign(model.buffers().begin(), model.buffers().end());
  saved_rngs_.clear();
  for (Rng* r : rngs_) saved_rngs_.push_back(*r);
  model.forward(x_.data(), n_, Mode::train);
  std::copy(saved_buffers_.begin(), saved_buffers_.end(), model.buffers().begin());
  for (std::size_t i = 0; i < rngs_.size(); ++i) *rngs_[i] = saved_rngs_[i];
  const std::size_t first = out.size();
  for (auto i : layers_) {
    const Layer<float>& L = model.layer(i);
    const std::size_t count = std::size_t(n_) * L.out_shape().size();
    const float* z = model.activation(i);
    acc::accumulator_set<double, acc::stats<acc::tag::mean, acc::tag::variance>> s;
    for (std::size_t j = 0; j < count; ++j) s(z[j]);
    scratch_.assign(z, z + count);
    ActivationPoint p{step, int(i), L.kind(), acc::mean(s), std::sqrt(acc::variance(s)), 0, 0, 0};
    {
      std::array<double, 3> r{};
      percentiles(scratch_, kProbeQs, r);
      p.p15 = r[0];
      p.p50 = r[1];
      p.p85 = r[2];
    }
    // Unit 0: sample n's values of channel 0 are z[n*size .. n*size + spatial).
    const std::size_t size = L.out_shape().size(), spatial = L.out_shape().spatial();
    scratch_.clear();
    for (int n = 0; n < n_; ++n) scratch_.insert(scratch_.end(), z + n * size, z + n * size + spatial);
    {
      std::array<double, 3> r{};
      percentiles(scratch_, kProbeQs, r);
      p.unit_p15 = r[0];
      p.unit_p50 = r[1];
      p.unit_p85 = r[2];
    }
    if (auto* bn = dynamic_cast<const BatchNorm<float>*>(&L)) {
      const int C = L.out_shape().c;
      double m = 0, v = 0;
      for (int c = 0; c < C; ++c) {
        m += bn->running_mean()[c];
        v += bn->running_var()[c];
      }
      p.bn_running_mean = m / C;
      p.bn_running_var = v / C;
      p.has_bn = true;
    }
    p.weight_norm = producing_weight_norm(model, i);
    out.push_back(p);
  }
  // Eval mode reads the running averages and changes nothing.
  model.forward(x_.data(), n_, Mode::eval);
  for (std::size_t k = 0; k < layers_.size(); ++k) {
    const std::size_t count = std::size_t(n_) * model.layer(layers_[k]).out_shape().size();
    const float* z = model.activation(layers_[k]);
    scratch_.assign(z, z + count);
    ActivationPoint& p = out[first + k];
    {
      std::array<double, 3> r{};
      percentiles(scratch_, kProbeQs, r);
      p.eval_p15 = r[0];
      p.eval_p50 = r[1];
      p.eval_p85 = r[2];
    }
  }
}

}  // namespace normlab
