#pragma once
// A cell's decision from its paired differences (one per seed, treatment minus
// control, signed so that > 0 favours the claim) against a pre-registered margin m.
//
// Interval methods, one per metric kind (the kind says what the values can be):
//   t            continuous metrics (accuracy, loss, times): d̄ ± t(1-α/2, n-1) · s / √n
//   signed-rank  grid-valued metrics (an lr on a grid, a width in decades), step
//                counts and bounded rates: the exact Wilcoxon signed-rank interval
//                (Hodges–Lehmann), [W(k), W(M+1-k)] of the M = n(n+1)/2 sorted Walsh
//                averages (d_i + d_j)/2, i <= j, k the largest with P(W+ < k) <= α/2
//                under the null's exact distribution. Why this one: ties and a few
//                distinct values (0, 0.48, 0.95 decades) break the t interval's
//                normal model; a bootstrap over 5 seeds resamples 5 values and covers
//                far less than its level. The signed-rank interval needs only a
//                distribution symmetric about its centre (paired seeds), holds its
//                level at any n, and is rank-based, so a censored value enters as a
//                bound. Its price: with n <= 5 no 95% interval exists (2^-5 > 0.025),
//                so a cell needs 6 seeds to be decided.
// Resolution: a value known only to a grid step (or an evaluation interval) Δ
// gives a difference known to ±Δ, so each interval is widened to at least
// mean ± Δ. No cell is decided by an interval narrower than its resolution.
// Censoring: a run that never reached its target is "at least the budget"; its
// difference is known only to lie in [lo, hi] (one end infinite). The lower
// interval end is computed from every seed's lo, the upper from every hi
// (each end is monotone in the data, so the interval still covers).
//
//   supported       the 95% interval's lower bound is above m
//   not supported   equivalence (registered rules, m > 0): the 90% interval (TOST:
//                   two one-sided 5% tests) lies inside (-m, m), "equivalent";
//                   else the 95% upper bound is below m: "opposite" if below 0 too,
//                   else "too small"
//   inconclusive    otherwise; seeds_needed: the seeds at which a cell whose true
//                   effect lies one margin |m| from the margin would be decided with
//                   80% power, from this cell's spread (the pilot) and the registered
//                   margin, never from its observed mean
// Calibration (tests/test_claims_interval.cpp): with the true effect at m,
// "supported" comes out in at most 5% of simulated cells for each kind.
#include <string>
#include <vector>

namespace normlab {

enum class Verdict { supported, not_supported, inconclusive, untestable };
// Why a cell is not supported, or untestable (none otherwise).
enum class Why {
  none, equivalent, opposite, too_small,  // not supported
  control_failed, control_undecided, grid_edge_up, grid_edge_down, grid_edge_both  // untestable
};
// What a metric's values can be.
enum class MetricKind { continuous, grid, steps, rate };
enum class Method { t, signed_rank };

// The names written in claims.csv and claims.md: "supported", "not supported", ...; why: "" for none.
const char* verdict_name(Verdict v);
const char* why_name(Why w);
const char* kind_name(MetricKind k);
const char* method_name(Method m);
// The interval method valid for a kind: t for continuous, signed-rank otherwise.
Method method_for(MetricKind k);

// Per seed: the difference d and the bounds it is known to lie in (lo = d = hi unless censored).
struct CellSample {
  std::vector<double> d, lo, hi;
  int censored = 0;  // seeds whose difference is a bound
};
// A sample without censoring.
CellSample exact_sample(const std::vector<double>& d);

struct Interval {
  double low, high;
};
// The method's two-sided interval at `level` (lower end from s.lo, upper from s.hi),
// not widened by the resolution. Infinite when n is too small for the level.
Interval method_interval(Method m, const CellSample& s, double level);

struct CellRule {
  double margin = 0;
  Method method = Method::t;
  double resolution = 0;     // the half-width floor, in units of d
  bool equivalence = false;  // a registered equivalence test: TOST at 90%
  // One-sided levels of the decision interval (1 - 2 alpha: 95%) and of TOST (1 - 2 tost_alpha:
  // 90%); a group-sequential look lowers both (claims/sequential.h).
  double alpha = 0.025, tost_alpha = 0.05;
};

struct CellDecision {
  int n = 0;
  double mean = 0, sd = 0, ci_low = 0, ci_high = 0;  // 1 - 2 alpha (95%) interval (widened to the resolution)
  double tost_low = 0, tost_high = 0;                 // 1 - 2 tost_alpha (90%) interval (widened likewise)
  Verdict verdict = Verdict::inconclusive;
  Why why = Why::none;    // not supported: equivalent | opposite | too small
  int seeds_needed = 0;   // inconclusive: see above; -1: none would (resolution or margin too coarse)
};

// REQUIRES: s.d, s.lo, s.hi of one size. With fewer than 2 values the verdict is inconclusive.
CellDecision decide_cell(const CellSample& s, const CellRule& rule);
// The t method, no resolution, no censoring; equivalence tested when margin > 0.
CellDecision decide_cell(const std::vector<double>& d, double margin);

// Seeds at which a cell of this spread (sd of n values) whose true effect lies one
// |margin| from the margin is decided with 80% power; -1: no number would (the
// resolution is not finer than |margin|, or the margin is 0).
int seeds_for_margin(int n, double sd, const CellRule& rule);

// The smallest one-sided level α at which the cell's decision (verdict, why) still
// holds, scaled to the 5% family level (× 0.05 / its nominal α: rule.alpha, 0.025 for
// the 95% interval; rule.tost_alpha, 0.05 for TOST); for an undecided cell the smallest over the decisions
// it could reach. Holm's correction orders and tests cells by it.
double decision_level(const CellSample& s, const CellRule& rule, const CellDecision& c);

}  // namespace normlab
