#pragma once
// Step timings for a grid (the compute-overhead claim's measurement): every configuration of a
// grid timed as one training step by the benchmark harness (bench/step_timing.h),
// not trained. Each seed is one timing repeat; repeats run in seed order, all
// configurations per repeat, so slow drift of the machine hits every norm alike.
//   timings.csv  run_id, every identity config key, median_s, min_s, samples_per_s,
//                gemm_flops, norm_flops, norm_bytes (per step, counted: bench/step_timing.h)
#include <string>
#include <vector>

#include "bench/harness.h"
#include "train/run_config.h"

namespace normlab {

// Returns the timings.csv text, rows in grid order. REQUIRES: specs[i] = resolve(runs[i]).
// Throws ConfigError for a configuration that does not build.
std::string time_step_configs(const std::vector<RunConfig>& runs, const std::vector<TrainSpec>& specs,
                              const TimingOptions& opt);

// True when PATH is a timings.csv of exactly these runs, in grid order (a
// complete earlier measurement that can be reused); false if missing or unreadable.
bool timings_complete(const std::string& path, const std::vector<RunConfig>& runs);

}  // namespace normlab
