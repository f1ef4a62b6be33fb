#pragma once
// How far batch statistics stray from the population's: the measurement
// behind "small batches give unstable estimates of mean and variance".
#include <cstdint>
#include <vector>

#include "data/dataset.h"
#include "nn/sequential.h"
#include "train/run_result.h"

namespace normlab {

// Per-sample, per-channel moments of one layer's input over a whole split:
// s1[n*C + c] = mean over the S spatial positions, s2 = mean of squares.
struct SampleMoments {
  int count = 0, channels = 0;
  std::vector<double> s1, s2;  // (count, channels)
};

// Errors of K batch estimates against the population, from per-sample moments.
// Population per channel c: mu = mean_n s1, var = mean_n s2 - mu^2 (biased,
// over all count x S values). A batch of B distinct samples, drawn uniformly
// (partial Fisher-Yates), has m = mean s1, v = mean s2 - m^2: exactly what
// batch norm computes over B x S values in training.
//   mean_err = sqrt(mean_{k,c} (m - mu)^2 / var)
//   var_err  = sqrt(mean_{k,c} (v - var)^2 / var^2)
// Closed forms for iid Gaussian values and S = 1: 1/sqrt(B) and sqrt(2B-1)/B.
// Channels with zero population variance are skipped.
// REQUIRES: 2 <= B <= m.count.
std::pair<double, double> batch_stat_error(const SampleMoments& m, int B, int draws, uint64_t seed);

// For every batch-norm layer of the model: its input's moments over the whole
// split (forward in eval mode, batches of eval_batch), then batch_stat_error at
// each size in `sizes`, `draws` batches each. Appends one point per layer and
// size. The RNG stream is (seed, layer, size), so results are deterministic.
void measure_batch_stats(Sequential<float>& model, const Split& split, const std::vector<int>& sizes,
                         int draws, int eval_batch, uint64_t seed, long step,
                         std::vector<BatchStatPoint>& out);

}  // namespace normlab
