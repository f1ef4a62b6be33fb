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
#include <boost/accumulators/accumulators.hpp>
#include <boost/accumulators/statistics/mean.hpp>
#include <boost/accumulators/statistics/stats.hpp>
#include <boost/accumulators/statistics/variance.hpp>
#include <cmath>

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

double percentile(std::vector<float>& v, double q) {
  const double pos = q * double(v.size() - 1);
  const std::size_t k = std::size_t(std::floor(pos));
  const double f = pos - double(k);
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  const double lo = v[k];
  if (f == 0.0 || k + 1 >= v.size()) return lo;
  const double hi = *std::min_element(v.begin() + long(k) + 1, v.end());
  return lo + f * (hi - lo);
}

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
    p.p15 = percentile(scratch_, 0.15);
    p.p50 = percentile(scratch_, 0.50);
    p.p85 = percentile(scratch_, 0.85);
    // Unit 0: sample n's values of channel 0 are z[n*size .. n*size + spatial).
    const std::size_t size = L.out_shape().size(), spatial = L.out_shape().spatial();
    scratch_.clear();
    for (int n = 0; n < n_; ++n) scratch_.insert(scratch_.end(), z + n * size, z + n * size + spatial);
    p.unit_p15 = percentile(scratch_, 0.15);
    p.unit_p50 = percentile(scratch_, 0.50);
    p.unit_p85 = percentile(scratch_, 0.85);
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
    p.eval_p15 = percentile(scratch_, 0.15);
    p.eval_p50 = percentile(scratch_, 0.50);
    p.eval_p85 = percentile(scratch_, 0.85);
  }
}

}  // namespace normlab
