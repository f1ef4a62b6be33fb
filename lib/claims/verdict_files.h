#pragma once
// The claims suite's verdict files, written from the rules and their results:
//   claims.csv  a row per claim (cell empty) and per cell: n, mean, interval, margin,
//               verdict (and before Holm), the metric's kind and interval method, grid
//               edges, positive control, and the cell's plateau (claims/plateau.h):
//               plateau, plateau_arm, plateau_seeds, plateau_n, plateau_gain
//   claims.md   a verdict table, then one section per claim: claim, source, rule,
//               its registration (hash, when, legacy) and amendments, verdict, the
//               metric per group and the per-seed differences, each cell's plateau, and its workload
//               (data, runs, training time, wall time, runs/s and samples/s per model);
//               with workloads, the verdict table names each claim's data; with a
//               beside folder (claims/beside.h), its verdict per claim and per cell,
//               and the cells both decide, agreeing or not
#include <map>
#include <string>
#include <vector>

#include "claims/beside.h"
#include "claims/registration.h"
#include "claims/rule.h"

namespace normlab {

// REQUIRES: rules.size() == results.size(), in the same order.
std::string claims_csv(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results);
// What a claim's runs cost: from its runs.csv (steps_done, batch-size, train_seconds per run)
// and its manifest (started, finished: the last command that ran it).
struct ClaimWorkload {
  long runs = 0;
  double train_s = 0;  // sum over runs of their training time (each run on one thread)
  double wall_s = -1;  // finished - started of the last run command; < 0: not known
  long trained = -1;   // the runs that command trained (the others it found complete); < 0: not known
  std::vector<std::pair<std::string, double>> samples_per_s;  // per model: samples trained / train_s
  std::vector<std::string> datasets;  // the runs' dataset specs, each once, in runs.csv order
};

// REQUIRES: status and work each empty (not shown) or of rules' size.
std::string claims_md(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results,
                      const std::string& profile, const std::vector<RuleStatus>& status = {},
                      const std::vector<ClaimWorkload>& work = {}, const Beside* beside = nullptr);

// The number that decides a claim: the smallest mean difference over its comparisons.
double decisive(const ClaimResult& r);

// Group names in natural order: numbers compare as numbers ("2" < "16" < "128"),
// and rows of one `each` combination (" @ model=...") sit together.
std::vector<std::string> natural_order(const std::map<std::string, std::map<long, double>>& m);

}  // namespace normlab
