#pragma once
// The noise-aware speed gate of `bench --compare`: a case is flagged only when
// its slowdown is statistically clear AND larger than a practical threshold.
//   statistically clear: a one-sided Mann-Whitney test (candidate repeats
//     slower than baseline repeats), or, against a history, a prediction test
//     of the candidate's median against the history's own night-to-night
//     spread; the p-values of all cases are Holm-corrected, so `alpha` is the
//     family-wise false-alarm rate of one comparison.
//   practical: ratio of medians (candidate / baseline) > 1 + threshold.
//   confirmed: a flagged case is timed again, independently, and the flag
//     stands only if that second timing flags it too (confirm_flags).
#include <string>
#include <vector>

namespace normlab {

// P(U >= observed) under H0 for the Mann-Whitney U of `slower` against `faster`:
// small when the values of `slower` tend to be larger. Exact (all rank
// orders equally likely) when there are no ties and m*n <= 10000; otherwise the
// normal approximation with tie correction and continuity correction.
// REQUIRES: both non-empty.
double mann_whitney_greater_p(const std::vector<double>& slower, const std::vector<double>& faster);

// Holm's step-down adjusted p-values (same order as p), each capped at 1.
std::vector<double> holm_adjust(const std::vector<double>& p);

double median_of(std::vector<double> v);  // REQUIRES: v non-empty

// Upper-tail p of a standard normal and of Student's t with df degrees of freedom.
double normal_upper_p(double z);
double student_t_upper_p(double t, double df);

// One case compared: baseline and candidate repeat times (seconds, already
// scaled when the machines differ), or a history of per-commit medians.
struct GateCase {
  std::string name;
  std::vector<double> baseline, candidate;
  std::vector<double> history_medians;  // set: the history test is used instead of Mann-Whitney
};

enum class GateMethod { mann_whitney, history_spread };

struct GateResult {
  std::string name;
  GateMethod method = GateMethod::mann_whitney;
  double ratio = 1;  // median(candidate) / median(baseline or history medians)
  double p = 1;      // one-sided raw p
  double p_holm = 1;
  bool flagged = false;
  // Set by confirm_flags for a case the first timing flagged:
  bool retimed = false;
  double again_ratio = 1, again_p_holm = 1;  // the second timing's ratio and Holm p
};

struct GateOptions {
  double alpha = 0.05;      // family-wise false-alarm rate over the cases of one comparison
  double threshold = 0.05;  // practical threshold: slowdowns below 5% are never flagged
};

// History test: the log of the candidate's median against the log medians of
// the history (n >= 3 values), as a prediction interval: t = (x - mean) /
// (s * sqrt(1 + 1/n)), s from the history's log medians, df = n - 1.
double history_spread_p(const std::vector<double>& history_medians, double candidate_median);

// REQUIRES: every case has a non-empty candidate and either a non-empty
// baseline or >= 3 history medians.
std::vector<GateResult> speed_gate(const std::vector<GateCase>& cases, const GateOptions& opt);

// The flags of `first` that `again` (the same test on a second, independent
// timing of the flagged cases, matched by name) confirms. Why a second timing:
// one burst of load on the machine during one case's timing slows it by more
// than any spread measured over ordinary runs foresees (timing noise has heavy
// tails), and such a burst rarely hits the same case twice; a real slowdown
// does. Unflagged cases are unchanged. A flagged case missing from `again`
// keeps its flag (a slowdown is never hidden by a missing re-timing).
std::vector<GateResult> confirm_flags(std::vector<GateResult> first, const std::vector<GateResult>& again);

}  // namespace normlab
