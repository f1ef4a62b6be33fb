#pragma once
// One full training step (forward, backward, optimizer update) of a model,
// timed by the harness: the step suite's cases and the compute-overhead
// claim's measurement, so both time the same thing.
#include "bench/harness.h"
#include "nn/model.h"
#include "optim/optimizer.h"

namespace normlab {

// Builds the model (default init, seed 1), feeds a fixed pseudo-random batch of
// N inputs in about [0.3, 0.7] with cycling labels, and times TrainStep::run at
// lr 0.01 as the trainer runs a step between evaluations (want_norm false: the
// gradient is checked to be finite, its norm is not summed). Returns median/min seconds, items = N, and the step's GEMM FLOPs
// (forward, input-gradient and weight-gradient products; none for the input
// gradient of the first layer). With gemm_part, also the seconds spent inside
// gemm per step (the median step time x the fraction of time inside gemm,
// measured over extra steps with the gemm timer on). Throws ConfigError if
// the model does not build. Also the normalization layers' work per step,
// counted from the passes of the normalization core (nn/norm_core.cpp) over
// E = N x (the layer's activation size) values: forward one moments pass (4
// flops, read x) and one affine pass (2 flops, read x, write y); backward one
// reduction pass (3 flops, read dy and x) and one write pass (4 flops, read dy
// and x, accumulate into dx). 13 flops and 9 float32 accesses (36 bytes) per
// value; per-channel terms, and the norm inside the RNN layer, are left out.
// A count, not a measurement.
BenchRow time_train_step(const ModelConfig& mc, const OptimConfig& oc, int N, const TimingOptions& opt,
                         bool gemm_part);

}  // namespace normlab
