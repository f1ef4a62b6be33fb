// Baseline gating (contract in baseline.h).
#include "claims/baseline.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "claims/verdict_files.h"
#include "tensor/blas_kernel.h"

namespace normlab {

namespace {

// Warns when the baseline's claims ran on another BLAS kernel than this
// process (their numbers may then differ in the last bits, growing over training).
void warn_baseline_kernel(const std::string& dir, const std::vector<ClaimRule>& rules) {
  const std::string now = blas_kernel().name;
  std::set<std::string> kernels;
  for (const auto& c : rules) {
    std::ifstream in(dir + "/" + c.id + "/manifest.json");
    if (!in) continue;
    const auto m = nlohmann::json::parse(in, nullptr, false);
    if (m.is_discarded()) continue;
    kernels.insert(m.contains("build") ? m["build"].value("blas_kernel", "unrecorded") : "unrecorded");
  }
  for (const auto& k : kernels)
    if (k != now)
      spdlog::warn("baseline {}: made with BLAS kernel {}, this run uses {}; numbers may differ beyond the "
                   "tolerances for that reason alone", dir, k, now);
}

}  // namespace

int compare_baseline(const std::string& dir, const std::vector<ClaimRule>& rules,
                     const std::vector<ClaimResult>& results) {
  const CsvTable base = read_csv(dir + "/claims.csv");
  warn_baseline_kernel(dir, rules);
  int changes = 0;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    std::size_t row = base.rows.size();
    for (std::size_t j = 0; j < base.rows.size(); ++j)
      if (base.at(j, "id") == r.id) row = j;
    if (row == base.rows.size()) {
      spdlog::warn("baseline {}: no row for claim {}", dir, r.id);
      continue;
    }
    const std::string v0 = base.at(row, "verdict");
    const double d0 = base.num(row, "decisive_mean_diff"), d1 = decisive(results[i]);
    if (r.measure == "step-time") {
      // Timings vary with the machine and its load; speed is gated by `bench --compare`.
      if (v0 != results[i].verdict || std::abs(d1 - d0) > r.tolerance)
        spdlog::warn("{}: '{}' ({:.4g}) vs baseline '{}' ({:.4g}); a timing claim, reported but not gated",
                     r.id, results[i].verdict, d1, v0, d0);
      else
        spdlog::info("{}: unchanged ({}, {:.4g} vs baseline {:.4g})", r.id, v0, d1, d0);
      continue;
    }
    if (v0 != results[i].verdict) {
      spdlog::error("{}: verdict changed from '{}' to '{}'", r.id, v0, results[i].verdict);
      ++changes;
    } else if (std::abs(d1 - d0) > r.tolerance) {
      spdlog::error("{}: decisive difference moved from {:.4g} to {:.4g} (tolerance {})", r.id, d0, d1, r.tolerance);
      ++changes;
    } else {
      spdlog::info("{}: unchanged ({}, {:.4g} vs baseline {:.4g})", r.id, v0, d1, d0);
    }
  }
  return changes;
}

}  // namespace normlab
