#pragma once
// The claims suite's verdict files, written from the rules and their results:
//   claims.csv  id, verdict, decisive_mean_diff, comparisons, metric_by_group, metric,
//               by, control, margin, tolerance, note, statement, rule
//   claims.md   a verdict table, then one section per claim: claim, source, rule,
//               its registration (hash, when, legacy) and amendments, verdict, the
//               metric per group and the per-seed differences
#include <map>
#include <string>
#include <vector>

#include "claims/registration.h"
#include "claims/rule.h"

namespace normlab {

// REQUIRES: rules.size() == results.size(), in the same order.
std::string claims_csv(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results);
// REQUIRES: status empty (no registration shown) or of rules' size.
std::string claims_md(const std::vector<ClaimRule>& rules, const std::vector<ClaimResult>& results,
                      const std::string& profile, const std::vector<RuleStatus>& status = {});

// The number that decides a claim: the smallest mean difference over its comparisons.
double decisive(const ClaimResult& r);

// Group names in natural order: numbers compare as numbers ("2" < "16" < "128"),
// and rows of one `each` combination (" @ model=...") sit together.
std::vector<std::string> natural_order(const std::map<std::string, std::map<long, double>>& m);

}  // namespace normlab
