// PreciseBN: pooled batch statistics over many batches (see precise_bn.h for the math).
#include "train/precise_bn.h"

#include <algorithm>

#include "data/sampler.h"
#include "nn/norm_layers.h"
#include "nn/residual.h"
#include "tensor/rng.h"

namespace normlab {

PreciseBN::PreciseBN(Sequential<float>& model) : model_(model) {
  auto visit = [&](Layer<float>& l) {
    if (auto* bn = dynamic_cast<BatchNorm<float>*>(&l)) {
      const std::size_t C = std::size_t(bn->in_shape().c);
      layers_.push_back(bn);
      s0_.emplace_back(1, 0.0);
      s1_.emplace_back(C, 0.0);
      s2_.emplace_back(C, 0.0);
    }
  };
  for (std::size_t i = 0; i < model.num_layers(); ++i) {
    visit(model.layer(i));
    if (auto* block = dynamic_cast<ResidualBlock<float>*>(&model.layer(i)))
      for (std::size_t k = 0; k < block->num_parts(); ++k) visit(block->part(k));
  }
}

void PreciseBN::reset() {
  for (std::size_t j = 0; j < layers_.size(); ++j) {
    std::fill(s0_[j].begin(), s0_[j].end(), 0.0);
    std::fill(s1_[j].begin(), s1_[j].end(), 0.0);
    std::fill(s2_[j].begin(), s2_[j].end(), 0.0);
  }
}

void PreciseBN::add(const float* x, int n) {
  model_.forward(x, n, Mode::eval_batch_stats);
  for (std::size_t j = 0; j < layers_.size(); ++j) {
    const BatchNorm<float>& bn = *layers_[j];
    const Shape s = bn.in_shape();
    const int C = s.c, K = bn.chunk(n);
    for (int n0 = 0, k = 0; n0 < n; n0 += K, ++k) {
      const double Mk = double(std::min(K, n - n0)) * s.spatial();
      const float* mu = bn.batch_mean() + std::size_t(k) * C;  // (C)
      const float* var = bn.batch_var() + std::size_t(k) * C;  // (C)
      s0_[j][0] += Mk;
      for (int c = 0; c < C; ++c) {
        s1_[j][c] += Mk * mu[c];
        s2_[j][c] += Mk * (double(var[c]) + double(mu[c]) * mu[c]);
      }
    }
  }
}

void PreciseBN::finish() {
  for (std::size_t j = 0; j < layers_.size(); ++j) {
    BatchNorm<float>& bn = *layers_[j];
    const int C = bn.in_shape().c;
    float* rm = bn.running_mean();  // (C)
    float* rv = bn.running_var();   // (C)
    const double M = s0_[j][0];
    for (int c = 0; c < C; ++c) {
      const double mu = s1_[j][c] / M;
      const double var = std::max(0.0, s2_[j][c] / M - mu * mu) * (M > 1 ? M / (M - 1) : 1.0);
      rm[c] = float(mu);
      rv[c] = float(var);
    }
  }
}

void recompute_precise_bn(Sequential<float>& model, const Split& train, int batches, int batch,
                          uint64_t seed) {
  PreciseBN p(model);
  if (p.empty()) return;
  batch = std::min({batch, train.count(), model.max_batch()});
  EpochSampler sampler(train.count(), batch, mix_seed(seed, 0x7072656369736542ull));
  std::vector<float> x(std::size_t(batch) * model.input_shape().size());
  std::vector<int32_t> y(static_cast<std::size_t>(batch));
  int epoch = 0;
  sampler.start_epoch(epoch);
  for (int b = 0; b < batches; ++b) {
    const uint32_t* idx = nullptr;
    int n = 0;
    if (!sampler.next(idx, n)) {
      sampler.start_epoch(++epoch);
      sampler.next(idx, n);
    }
    train.gather(x.data(), y.data(), idx, n);
    p.add(x.data(), n);
  }
  p.finish();
}

}  // namespace normlab
