#pragma once
// A cell's decision from its paired differences (one per seed, treatment minus
// control, signed so that > 0 favours the claim) against a pre-registered margin m:
//   mean d̄, sample sd s, 95% interval d̄ ± t(0.975, n-1) · s / √n
//   supported       the interval's lower bound is above m
//   not supported   "equivalent" when m > 0 and the whole interval lies inside (-m, m):
//                   no practical difference either way (checked first); else its upper
//                   bound is below m: "opposite" if below 0 too, else "too small"
//   inconclusive    otherwise; seeds_needed is the smallest n' at which the interval,
//                   with this mean and sd, would clear m on one side
// Calibration (tests/test_claims_interval.cpp): with d ~ N(m, σ) "supported" comes
// out in at most 2.5% of replications; with d ~ N(m + 2σ, σ) in about 91% at n = 5.
#include <string>
#include <vector>

namespace normlab {

enum class Verdict { supported, not_supported, inconclusive };
// Why a cell is not supported (none otherwise).
enum class Why { none, equivalent, opposite, too_small };

// The names written in claims.csv and claims.md: "supported", "not supported", ...; why: "" for none.
const char* verdict_name(Verdict v);
const char* why_name(Why w);

struct CellDecision {
  int n = 0;
  double mean = 0, sd = 0, ci_low = 0, ci_high = 0;
  Verdict verdict = Verdict::inconclusive;
  Why why = Why::none;    // not supported: equivalent | opposite | too small
  int seeds_needed = 0;   // inconclusive: seeds that would likely decide it; -1: none would (mean on the margin)
};

// REQUIRES: d.size() >= 2 (an interval needs a spread); level in (0, 1).
// With fewer than 2 values the verdict is inconclusive and the interval infinite.
CellDecision decide_cell(const std::vector<double>& d, double margin, double level = 0.95);

}  // namespace normlab
