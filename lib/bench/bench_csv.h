#pragma once
// The bench CSV (`normlab bench --csv`), read back for --compare and
// `history record`. Columns:
//   suite, name, median_s, min_s, samples_per_s, gb_per_s, gflop_per_s,
//   gemm_part_gflop_per_s, repeats_s
// repeats_s: the median time of each timing repeat (one per --repeats round),
// in seconds, joined by ';'. Files from before it existed have no such
// column: each case then has one repeat, its median_s.
#include <string>
#include <vector>

namespace normlab {

struct BenchCase {
  std::string suite, name;
  double median_s = 0;
  std::vector<double> repeats_s;  // >= 1 value, each finite and > 0
  double gb_per_s = 0, gflop_per_s = 0;
  double min_s = 0, samples_per_s = 0;
};

// Every check before a number is trusted: the header, one row per case name,
// every time finite and > 0, the probes present (probe/triad and a
// probe/sgemm-* row). Throws ConfigError "PATH: data row N, column C: ...".
std::vector<BenchCase> read_bench_csv(const std::string& path);

// The probe yardstick of a machine: sqrt(triad seconds x sgemm seconds), from
// the probe rows' medians. REQUIRES: cases from read_bench_csv.
double probe_scale(const std::vector<BenchCase>& cases);

}  // namespace normlab
