// Paired t-interval and the cell decision (definitions in paired_interval.h).
#include "claims/paired_interval.h"

#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <limits>

namespace normlab {

namespace {
double t_quantile(double p, int df) { return boost::math::quantile(boost::math::students_t(double(df)), p); }
}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::supported: return "supported";
    case Verdict::not_supported: return "not supported";
    case Verdict::inconclusive: return "inconclusive";
  }
  return "";
}

const char* why_name(Why w) {
  switch (w) {
    case Why::none: return "";
    case Why::equivalent: return "equivalent";
    case Why::opposite: return "opposite";
    case Why::too_small: return "too small";
  }
  return "";
}

CellDecision decide_cell(const std::vector<double>& d, double margin, double level) {
  CellDecision c;
  c.n = int(d.size());
  const double inf = std::numeric_limits<double>::infinity();
  if (c.n == 0) {
    c.ci_low = -inf, c.ci_high = inf, c.verdict = Verdict::inconclusive, c.seeds_needed = 2;
    return c;
  }
  double sum = 0;
  for (double v : d) sum += v;
  c.mean = sum / c.n;
  if (c.n < 2) {
    c.ci_low = -inf, c.ci_high = inf, c.verdict = Verdict::inconclusive, c.seeds_needed = 2;
    return c;
  }
  double ss = 0;
  for (double v : d) ss += (v - c.mean) * (v - c.mean);
  c.sd = std::sqrt(ss / (c.n - 1));
  const double p = 0.5 + level / 2;
  const double half = t_quantile(p, c.n - 1) * c.sd / std::sqrt(double(c.n));
  c.ci_low = c.mean - half;
  c.ci_high = c.mean + half;
  if (c.ci_low > margin) {
    c.verdict = Verdict::supported;
  } else if (margin > 0 && c.ci_low > -margin && c.ci_high < margin) {
    // Equivalence: the effect, whatever its sign, is smaller than the margin.
    // Checked before "too small", which says less.
    c.verdict = Verdict::not_supported;
    c.why = Why::equivalent;
  } else if (c.ci_high < margin) {
    c.verdict = Verdict::not_supported;
    c.why = c.ci_high < 0 ? Why::opposite : Why::too_small;
  } else {
    c.verdict = Verdict::inconclusive;
    const double gap = std::abs(c.mean - margin);
    c.seeds_needed = -1;
    if (gap > 0)
      for (int m = c.n + 1; m <= 100000; ++m)
        if (t_quantile(p, m - 1) * c.sd / std::sqrt(double(m)) < gap) {
          c.seeds_needed = m;
          break;
        }
  }
  return c;
}

}  // namespace normlab
