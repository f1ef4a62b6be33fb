#pragma once
// Gating against a baseline claims directory (a committed claims-quick run):
// a claim or cell verdict that changes between two decisions (supported, not
// supported; an undecided or untestable side is not compared), a cell mean that
// moves beyond the rule's tolerance, or a cell the baseline lacks is a change,
// logged with the claim and the cell. Timing claims (measure = "step-time") are
// reported but never gated: speed is gated by `normlab bench --compare`.
#include <string>
#include <vector>

#include "claims/rule.h"

namespace normlab {

// DIR/claims.csv is a claims table (columns id, cell, verdict, mean; one row
// per (id, cell)) with a claim row for every rule. Throws ConfigError naming
// the file and what is wrong; called before any claim runs.
void check_baseline(const std::string& dir, const std::vector<ClaimRule>& rules);

// Logs each claim's comparison and returns the number of changes. Warns when the
// baseline's manifests name another BLAS kernel than this process runs.
// REQUIRES: rules.size() == results.size(). Throws ConfigError if DIR/claims.csv is unreadable.
int compare_baseline(const std::string& dir, const std::vector<ClaimRule>& rules,
                     const std::vector<ClaimResult>& results);

}  // namespace normlab
