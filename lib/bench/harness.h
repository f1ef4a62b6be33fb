#pragma once
// Timing harness: warm up, then time repeated calls until both a minimum
// number of repeats and a minimum total time are reached. Reports the median,
// the minimum and the maximum of the per-call times and the repeats (as
// hyperfine does).
#include <functional>
#include <string>
#include <vector>

namespace normlab {

struct Timing {
  double median_s = 0, min_s = 0;
  int repeats = 0;
  double max_s = 0;
};

struct TimingOptions {
  int warmup = 3;
  int min_repeats = 10;
  double min_total_s = 0.3;
  int max_repeats = 10000;
  // Test builds only (NORMLAB_BENCH_SLOWDOWN, cmd/test_faults.h): the case of
  // this name takes `slowdown` (a fraction) longer per call, by a busy wait.
  std::string slow_case;
  double slowdown = 0;
};

// opt for the case `name` (its full name, "norm/bn-fwd/128x1024"): slowdown
// kept when slow_case is name, else 0.
TimingOptions options_for_case(const TimingOptions& opt, const std::string& name);

Timing time_it(const std::function<void()>& fn, const TimingOptions& opt = {});

// One benchmark result row.
struct BenchRow {
  std::string suite, name;   // name identifies the case across normlab and PyTorch
  double median_s = 0, min_s = 0;
  double items = 0;          // samples per call (batch size), 0 when not meaningful
  double bytes = 0;          // bytes a call must move at least (memory-bound kernels)
  double flops = 0;          // floating-point operations per call (GEMM work)
  double gemm_s = 0;         // seconds per call inside gemm (steps only; 0: not measured)
  double norm_flops = 0;     // normalization work per call (steps only; bench/step_timing.h)
  double norm_bytes = 0;     // bytes the normalization passes move per call (steps only)
  double max_s = 0;          // slowest call
  int repeats = 0;           // timed calls (after the warm-up)
  void spread(const Timing& t) { max_s = t.max_s, repeats = t.repeats; }
  double samples_per_s() const { return items > 0 ? items / median_s : 0; }
  double gb_per_s() const { return bytes > 0 ? bytes / median_s / 1e9 : 0; }
  double gflop_per_s() const { return flops > 0 ? flops / median_s / 1e9 : 0; }
  // The GEMM part's own rate: GEMM work over the time spent inside gemm.
  double gemm_gflop_per_s() const { return flops > 0 && gemm_s > 0 ? flops / gemm_s / 1e9 : 0; }
  // Roofline lower bound (steps only; 0 otherwise): every counted flop at the sgemm
  // probe's rate plus every counted byte at the triad probe's rate,
  //   bound = (flops + norm_flops) / sgemm + norm_bytes / triad.
  // REQUIRES: sgemm_gflops, triad_gbs > 0 (the probes' rates).
  double bound_s(double sgemm_gflops, double triad_gbs) const {
    if (suite != "step") return 0;
    return (flops + norm_flops) / (sgemm_gflops * 1e9) + norm_bytes / (triad_gbs * 1e9);
  }

};

}  // namespace normlab
