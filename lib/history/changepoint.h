#pragma once
// Change points of one series (a benchmark case's log time, or a claim cell's
// mean, one value per commit in commit order) by PELT: Killick, Fearnhead and
// Eckley (2012), "Optimal detection of changepoints with a linear
// computational cost", JASA 107(500), with the normal mean-change cost.
#include <cstddef>
#include <vector>

namespace normlab {

struct ChangePointOptions {
  // Penalty per change point, in units of sigma^2: beta = penalty * ln(n).
  // 2 is BIC's; the default is stricter, set by the simulation in
  // tests/test_history_changepoint.cpp (false steps <= 5 in 100 histories).
  double penalty = 4.0;
  int min_segment = 2;  // commits per segment, at least
  double sigma = 0;     // noise sd of one value; 0: estimated (successive_sigma)
};

struct ChangePoint {
  std::size_t index = 0;  // first value of the new segment
  double before = 0, after = 0;  // segment means on either side
  double confidence = 0;  // 1 - two-sided p of the mean difference, z = d / (sigma sqrt(1/na + 1/nb))
};

// Noise sd from successive differences (von Neumann's mean square successive
// difference): sqrt(sum (x[i+1] - x[i])^2 / (2 (n - 1))). A few steps of size d
// add only about k d^2 / (2 (n - 1)) to its square, an outlier makes it larger
// (fewer steps found, not more). 0 for fewer than 3 values.
double successive_sigma(const std::vector<double>& x);

// Change points in index order. Empty when x has fewer than 2 * min_segment values.
std::vector<ChangePoint> detect_change_points(const std::vector<double>& x, const ChangePointOptions& opt);

// Theil-Sen slope: the median of (x[j] - x[i]) / (j - i) over i < j; 0 for < 2 values.
double theil_sen_slope(const std::vector<double>& x);

}  // namespace normlab
