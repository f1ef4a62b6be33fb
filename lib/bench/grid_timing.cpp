// Step timings for a grid of run configurations (format in grid_timing.h).
#include "bench/grid_timing.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "bench/step_timing.h"
#include "train/run_setup.h"
#include "tensor/gemm.h"
#include "core/errors.h"
#include "results/csv_table.h"
#include "results/run_files.h"

namespace normlab {

std::string time_step_configs(const std::vector<RunConfig>& runs, const std::vector<TrainSpec>& specs,
                              const TimingOptions& opt) {
  blas_set_threads(1);  // as in training: one thread per run
  std::string s = config_header() + ",median_s,min_s,samples_per_s,gemm_flops,norm_flops,norm_bytes\n";
  std::vector<std::size_t> order(runs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return runs[a].integer("seed") < runs[b].integer("seed");
  });
  std::vector<std::string> rows(runs.size());
  for (std::size_t i : order) {
    const RunSetup setup = setup_run(specs[i]);  // shapes and classes of the data
    const BenchRow r = time_train_step(setup.model, setup.spec.optim, setup.spec.batch_size, opt, false);
    rows[i] = config_fields(runs[i]) + fmt::format(",{:.6g},{:.6g},{:.6g},{:.8g},{:.8g},{:.8g}\n", r.median_s, r.min_s,
                                                   r.samples_per_s(), r.flops, r.norm_flops, r.norm_bytes);
  }
  for (const auto& r : rows) s += r;  // grid order
  return s;
}

bool timings_complete(const std::string& path, const std::vector<RunConfig>& runs) {
  if (!std::filesystem::exists(path)) return false;
  std::vector<std::string> want;
  for (const auto& r : runs) want.push_back(r.run_id());
  try {
    return match_run_ids(read_csv(path), want).in_order;
  } catch (const ConfigError&) {
    return false;
  }
}

}  // namespace normlab
