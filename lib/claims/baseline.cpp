// Baseline gating (contract in baseline.h).
#include "claims/baseline.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "claims/verdict_files.h"
#include "core/errors.h"
#include "core/read_file.h"
#include "tensor/blas_kernel.h"

namespace normlab {

namespace {

// Warns when the baseline's claims ran on another BLAS kernel than this
// process (their numbers may then differ in the last bits, growing over training).
void warn_baseline_kernel(const std::string& dir, const std::vector<ClaimRule>& rules) {
  const std::string now = blas_kernel().name;
  std::set<std::string> kernels;
  for (const auto& c : rules) {
    const std::string path = dir + "/" + c.id + "/manifest.json";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    const auto m = nlohmann::json::parse(read_file_capped(path), nullptr, false);
    if (m.is_discarded()) continue;
    kernels.insert(m.contains("build") ? m["build"].value("blas_kernel", "unrecorded") : "unrecorded");
  }
  for (const auto& k : kernels)
    if (k != now)
      spdlog::warn("baseline {}: made with BLAS kernel {}, this run uses {}; numbers may differ beyond the "
                   "tolerances for that reason alone", dir, k, now);
}

}  // namespace

void check_baseline(const std::string& dir, const std::vector<ClaimRule>& rules) {
  const std::string path = dir + "/claims.csv";
  const CsvTable base = read_csv(path);
  for (const char* c : {"id", "cell", "verdict", "mean"})
    if (std::find(base.header.begin(), base.header.end(), c) == base.header.end())
      throw ConfigError(fmt::format("--baseline: {} has no column '{}' (is it a claims.csv?)", path, c));
  std::set<std::pair<std::string, std::string>> seen;
  for (std::size_t j = 0; j < base.rows.size(); ++j)
    if (!seen.insert({base.at(j, "id"), base.at(j, "cell")}).second)
      throw ConfigError(fmt::format("--baseline: {}: data row {} repeats claim {} cell '{}'", path, j + 1,
                                    base.at(j, "id"), base.at(j, "cell")));
  for (const auto& r : rules)
    if (!seen.count({r.id, ""}))
      throw ConfigError(fmt::format("--baseline: {} has no row for claim {}; give a baseline that holds every claim "
                                    "being run (or --only the claims it holds)", path, r.id));
}

int compare_baseline(const std::string& dir, const std::vector<ClaimRule>& rules,
                     const std::vector<ClaimResult>& results) {
  const CsvTable base = read_csv(dir + "/claims.csv");
  warn_baseline_kernel(dir, rules);
  std::map<std::pair<std::string, std::string>, std::size_t> row_of;  // (id, cell) -> row; cell "" = the claim
  for (std::size_t j = 0; j < base.rows.size(); ++j) row_of[{base.at(j, "id"), base.at(j, "cell")}] = j;
  int changes = 0;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = rules[i];
    // Timings vary with the machine and its load: reported, never gated (`bench --compare` gates speed).
    const bool gated = r.measure != "step-time";
    const auto report = [&](const std::string& what, const std::string& msg) {
      if (gated) {
        spdlog::error("{}: {}", what, msg);
        ++changes;
      } else {
        spdlog::warn("{}: {}; a timing claim, reported but not gated", what, msg);
      }
    };
    const auto claim_row = row_of.find({r.id, ""});
    if (claim_row == row_of.end()) {
      spdlog::warn("baseline {}: no row for claim {}", dir, r.id);
      continue;
    }
    // Decisions are compared only where both the baseline and this run decided (a cell
    // supported or not supported; a claim whose every cell is one of those): an undecided
    // or untestable quick cell is no evidence either way. Means are compared always.
    const auto decided = [](const std::string& v) { return v == "supported" || v == "not supported"; };
    const std::string v0 = base.at(claim_row->second, "verdict"), v1 = verdict_text(results[i]);
    if (v0 != v1 && decided(v0) && decided(v1)) report(r.id, fmt::format("verdict changed from '{}' to '{}'", v0, v1));
    int same = 0;
    for (const auto& c : results[i].comparisons) {
      const std::string what = r.id + " [" + c.treatment + "]";
      const auto it = row_of.find({r.id, c.treatment});
      if (it == row_of.end()) {
        report(what, "a cell the baseline does not have");
        continue;
      }
      const std::string cv0 = base.at(it->second, "verdict");
      const double m0 = base.num(it->second, "mean");
      if (cv0 != verdict_name(c.verdict) && decided(cv0) && decided(verdict_name(c.verdict)))
        report(what, fmt::format("cell verdict changed from '{}' to '{}' (mean {:.4g} -> {:.4g})", cv0,
                                 verdict_name(c.verdict), m0, c.mean));
      else if (!(std::abs(c.mean - m0) <= r.tolerance))
        report(what, fmt::format("cell mean moved from {:.4g} to {:.4g} (tolerance {})", m0, c.mean, r.tolerance));
      else
        ++same;
    }
    spdlog::info("{}: {} of {} cells unchanged against the baseline", r.id, same, results[i].comparisons.size());
  }
  return changes;
}

}  // namespace normlab
