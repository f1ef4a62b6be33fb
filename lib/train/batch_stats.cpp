// Batch-statistic error against the population (definitions in batch_stats.h).
// Population moments per channel, over all N x S values of a layer's input:
//   mu = (1/N) sum_n s1[n],  var = (1/N) sum_n s2[n] - mu^2
// Batch moments over a uniform sample of B distinct n: the same sums over the batch.
#include "train/batch_stats.h"

#include <cmath>
#include <numeric>

#include "nn/norm_layers.h"
#include "tensor/rng.h"

namespace normlab {

std::pair<double, double> batch_stat_error(const SampleMoments& m, int B, int draws, uint64_t seed) {
  const int N = m.count, C = m.channels;
  std::vector<double> mu(C, 0.0), var(C, 0.0);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      mu[c] += m.s1[std::size_t(n) * C + c];
      var[c] += m.s2[std::size_t(n) * C + c];
    }
  for (int c = 0; c < C; ++c) {
    mu[c] /= N;
    var[c] = var[c] / N - mu[c] * mu[c];
  }
  std::vector<uint32_t> idx(N);
  std::iota(idx.begin(), idx.end(), 0u);
  std::vector<double> bm(C), bv(C);
  Rng rng(seed);
  double se_mean = 0, se_var = 0;
  long terms = 0;
  for (int k = 0; k < draws; ++k) {
    for (int i = 0; i < B; ++i) std::swap(idx[i], idx[i + rng.below(uint32_t(N - i))]);
    std::fill(bm.begin(), bm.end(), 0.0);
    std::fill(bv.begin(), bv.end(), 0.0);
    for (int i = 0; i < B; ++i) {
      const double* a = &m.s1[std::size_t(idx[i]) * C];
      const double* b = &m.s2[std::size_t(idx[i]) * C];
      for (int c = 0; c < C; ++c) {
        bm[c] += a[c];
        bv[c] += b[c];
      }
    }
    for (int c = 0; c < C; ++c) {
      if (!(var[c] > 0)) continue;
      const double mb = bm[c] / B, vb = bv[c] / B - mb * mb;
      se_mean += (mb - mu[c]) * (mb - mu[c]) / var[c];
      se_var += (vb - var[c]) * (vb - var[c]) / (var[c] * var[c]);
      ++terms;
    }
  }
  if (terms == 0) return {0.0, 0.0};
  return {std::sqrt(se_mean / double(terms)), std::sqrt(se_var / double(terms))};
}

void measure_batch_stats(Sequential<float>& model, const Split& split, const std::vector<int>& sizes,
                         int draws, int eval_batch, uint64_t seed, long step,
                         std::vector<BatchStatPoint>& out) {
  std::vector<std::size_t> bn_layers;
  for (std::size_t i = 0; i < model.num_layers(); ++i)
    if (dynamic_cast<const BatchNorm<float>*>(&model.layer(i))) bn_layers.push_back(i);
  if (bn_layers.empty() || sizes.empty()) return;
  const int N = split.count();
  std::vector<SampleMoments> mom(bn_layers.size());
  for (std::size_t j = 0; j < bn_layers.size(); ++j) {
    const Shape s = model.layer(bn_layers[j]).in_shape();
    mom[j].count = N;
    mom[j].channels = s.c;
    mom[j].s1.assign(std::size_t(N) * s.c, 0.0);
    mom[j].s2.assign(std::size_t(N) * s.c, 0.0);
  }
  const int B = std::min(eval_batch, model.max_batch());
  std::vector<float> x(std::size_t(B) * model.input_shape().size());
  std::vector<int32_t> y(B);
  for (int begin = 0; begin < N; begin += B) {
    const int n = std::min(B, N - begin);
    split.gather_range(x.data(), y.data(), begin, n);
    model.forward(x.data(), n, Mode::eval);
    for (std::size_t j = 0; j < bn_layers.size(); ++j) {
      const std::size_t L = bn_layers[j];
      const Shape s = model.layer(L).in_shape();
      const int C = s.c;
      const std::size_t S = s.size() / std::size_t(C);
      const float* in = L == 0 ? x.data() : model.activation(L - 1);
      for (int i = 0; i < n; ++i)
        for (int c = 0; c < C; ++c) {
          const float* v = in + (std::size_t(i) * C + c) * S;
          double a = 0, b = 0;
          for (std::size_t p = 0; p < S; ++p) {
            a += v[p];
            b += double(v[p]) * v[p];
          }
          mom[j].s1[std::size_t(begin + i) * C + c] = a / double(S);
          mom[j].s2[std::size_t(begin + i) * C + c] = b / double(S);
        }
    }
  }
  for (std::size_t j = 0; j < bn_layers.size(); ++j)
    for (int size : sizes) {
      const uint64_t stream = (uint64_t(bn_layers[j]) << 32) | uint32_t(size);
      const auto [me, ve] = batch_stat_error(mom[j], size, draws, mix_seed(seed, stream));
      out.push_back({step, int(bn_layers[j]), size, draws, me, ve});
    }
}

}  // namespace normlab
