#pragma once
// Group-sequential looks for `claims --until-decided`: seeds are added in rounds
// to undecided cells, and each look at a cell is read at a per-look level that
// keeps the chance of a false decision over all looks at its nominal level.
//
// Design (fixed before the first added seed, a function of n0 and the cap only):
//   looks      n_j = n0 + round(j (cap - n0) / R), j = 0..R, R = min(3, cap - n0)
//   fraction   t_j = n_j / cap  (the information at look j; t_R = 1)
//   spending   Lan–DeMets O'Brien–Fleming-type: a one-sided total α is spent as
//                α*(t) = 2 - 2 Φ(z_{1-α/2} / √t),  α*(1) = α
//   boundary   c_j, the z at look j, solves P(Z_1 < c_1, ..., Z_{j-1} < c_{j-1}, Z_j >= c_j)
//              = α*(t_j) - α*(t_{j-1}) for the standardized sums Z_j = B(t_j)/√t_j of a
//              Brownian motion (the statistics' joint law; Jennison & Turnbull 2000, ch. 7),
//              by numerical integration over the continuation region (Armitage, McPherson
//              & Rowe 1969's recursion)
//   level      the nominal one-sided level at look j: α_j = 1 - Φ(c_j). A cell with n_j
//              seeds is decided by its interval at confidence 1 - 2 α_j (α = 0.025: the
//              95% interval's sides) and by TOST at 1 - 2 α'_j (α = 0.05), each method
//              (t, signed-rank) at that level.
// Early looks spend little (n0 = 5, cap = 12: α_0 ≈ 0.0005), so the last look's level
// is close to the fixed design's. A cell may stop at its first decision; the other
// side's decision only stops paths early, so each side's false-decision rate stays
// at most its α. Calibration: tests/test_claims_sequential.cpp.
#include <vector>

namespace normlab {

struct SequentialDesign {
  int n0 = 0, cap = 0;
  std::vector<int> looks;          // seeds at each look, n0 first, cap last
  std::vector<double> alpha_ci;    // per look, one-sided, spending 0.025
  std::vector<double> alpha_tost;  // per look, one-sided, spending 0.05
};

// The look schedule above. REQUIRES: 1 <= n0; cap >= n0 (cap == n0: one look).
std::vector<int> look_schedule(int n0, int cap);

// O'Brien–Fleming-type spending: α*(t) for a one-sided total α. REQUIRES: 0 < t <= 1.
double obf_spent(double t, double alpha);

// The nominal one-sided level of each look at information fractions t (increasing, last 1).
std::vector<double> nominal_levels(const std::vector<double>& t, double alpha);

// The design for n0 seeds and a cap.
SequentialDesign sequential_design(int n0, int cap);

// The look a cell with n seeds is at: the last look with n_j <= n (0 below n0).
int look_of(const SequentialDesign& d, int n);

}  // namespace normlab
