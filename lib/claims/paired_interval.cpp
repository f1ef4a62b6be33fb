// Cell intervals (t, exact signed-rank), the resolution floor, censoring bounds,
// TOST and the cell decision (definitions in paired_interval.h).
#include "claims/paired_interval.h"

#include <boost/math/distributions/students_t.hpp>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace normlab {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

double t_quantile(double p, int df) { return boost::math::quantile(boost::math::students_t(double(df)), p); }

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

double sd_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / double(v.size() - 1));
}

// t interval: the lower end from lo, the upper from hi (equal without censoring).
Interval t_interval(const CellSample& s, double level) {
  const int n = int(s.d.size());
  const double q = t_quantile(0.5 + level / 2, n - 1), rn = std::sqrt(double(n));
  return {mean_of(s.lo) - q * sd_of(s.lo) / rn, mean_of(s.hi) + q * sd_of(s.hi) / rn};
}

// k: the Walsh averages trimmed from each end, the largest k with P(W+ <= k-1) <= a2
// under the signed-rank statistic's exact null distribution (2^n equally likely sign patterns).
int signed_rank_k(int n, double a2) {
  const int M = n * (n + 1) / 2;
  std::vector<double> ways(M + 1, 0.0);  // ways[w]: sign patterns with rank sum w
  ways[0] = 1;
  for (int r = 1; r <= n; ++r)
    for (int w = M; w >= r; --w) ways[w] += ways[w - r];
  const double total = std::ldexp(1.0, n);
  int k = 0;
  double cum = 0;
  while (k <= M && (cum + ways[k]) / total <= a2) cum += ways[k++];
  return k;
}

std::vector<double> walsh(const std::vector<double>& v) {
  std::vector<double> w;
  for (std::size_t i = 0; i < v.size(); ++i)
    for (std::size_t j = i; j < v.size(); ++j) w.push_back(v[i] / 2 + v[j] / 2);  // halves first: no inf - inf
  std::sort(w.begin(), w.end());
  return w;
}

Interval signed_rank_interval(const CellSample& s, double level) {
  const int n = int(s.d.size()), M = n * (n + 1) / 2;
  const int k = signed_rank_k(n, (1 - level) / 2);
  if (k == 0) return {-kInf, kInf};
  return {walsh(s.lo)[k - 1], walsh(s.hi)[M - k]};
}

// The interval at `level`, widened to mean ± resolution.
Interval floored(const CellSample& s, const CellRule& r, double mean, double level) {
  Interval i = method_interval(r.method, s, level);
  return {std::min(i.low, mean - r.resolution), std::max(i.high, mean + r.resolution)};
}

enum class Decision { supported, equivalent, below };

bool holds(Decision d, const Interval& i, double m) {
  switch (d) {
    case Decision::supported: return i.low > m;
    case Decision::equivalent: return i.low > -m && i.high < m;
    case Decision::below: return i.high < m;
  }
  return false;
}

// The smallest one-sided α at which `d` holds (interval at level 1 - 2α), scaled to the 5% family level.
double attained(Decision d, const CellSample& s, const CellRule& r, double mean) {
  const auto ok = [&](double a) { return holds(d, floored(s, r, mean, 1 - 2 * a), r.margin); };
  double hi = 0.4999;
  if (!ok(hi)) return 1.0;
  double lo = 1e-12;
  if (ok(lo)) return lo;
  for (int it = 0; it < 60; ++it) {  // bisection on log α
    const double mid = std::sqrt(lo * hi);
    (ok(mid) ? hi : lo) = mid;
  }
  return std::min(1.0, hi * 0.05 / (d == Decision::equivalent ? r.tost_alpha : r.alpha));
}

}  // namespace

int seeds_for_margin(int n, double sd, const CellRule& r) {
  const double dist = std::abs(r.margin);
  if (!(dist > r.resolution)) return -1;
  const int n_min = r.method == Method::t ? 2 : 6;  // signed-rank: 2^-n <= 0.025 first at n = 6
  const double eff = r.method == Method::t ? 1.0 : 3 / std::numbers::pi;  // its efficiency vs t
  for (int m = std::max(n + 1, n_min); m <= 100000; ++m) {
    const double z = t_quantile(0.975, m - 1) + t_quantile(0.80, m - 1);
    if (z * sd / std::sqrt(m * eff) <= dist) return m;
  }
  return -1;
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::supported: return "supported";
    case Verdict::not_supported: return "not supported";
    case Verdict::inconclusive: return "inconclusive";
    case Verdict::untestable: return "untestable";
  }
  return "";
}

const char* why_name(Why w) {
  switch (w) {
    case Why::none: return "";
    case Why::equivalent: return "equivalent";
    case Why::opposite: return "opposite";
    case Why::too_small: return "too small";
    case Why::control_failed: return "control failed";
    case Why::control_undecided: return "control undecided";
    case Why::grid_edge_up: return "grid edge: extend lr up";
    case Why::grid_edge_down: return "grid edge: extend lr down";
    case Why::grid_edge_both: return "grid edge: extend lr up and down";
  }
  return "";
}

const char* kind_name(MetricKind k) {
  switch (k) {
    case MetricKind::continuous: return "continuous";
    case MetricKind::grid: return "grid";
    case MetricKind::steps: return "steps";
    case MetricKind::rate: return "rate";
  }
  return "";
}

const char* method_name(Method m) { return m == Method::t ? "t" : "signed-rank"; }

Method method_for(MetricKind k) { return k == MetricKind::continuous ? Method::t : Method::signed_rank; }

CellSample exact_sample(const std::vector<double>& d) { return {d, d, d, 0}; }

Interval method_interval(Method m, const CellSample& s, double level) {
  if (s.d.size() < 2) return {-kInf, kInf};
  return m == Method::t ? t_interval(s, level) : signed_rank_interval(s, level);
}

CellDecision decide_cell(const CellSample& s, const CellRule& r) {
  CellDecision c;
  c.n = int(s.d.size());
  c.ci_low = c.tost_low = -kInf, c.ci_high = c.tost_high = kInf;
  if (c.n > 0) c.mean = mean_of(s.d);
  if (c.n < 2) {
    c.seeds_needed = r.method == Method::t ? 2 : 6;
    return c;
  }
  c.sd = sd_of(s.d);
  const Interval ci = floored(s, r, c.mean, 1 - 2 * r.alpha), tost = floored(s, r, c.mean, 1 - 2 * r.tost_alpha);
  c.ci_low = ci.low, c.ci_high = ci.high, c.tost_low = tost.low, c.tost_high = tost.high;
  if (holds(Decision::supported, ci, r.margin)) {
    c.verdict = Verdict::supported;
  } else if (r.equivalence && r.margin > 0 && holds(Decision::equivalent, tost, r.margin)) {
    // Checked before "too small", which says less.
    c.verdict = Verdict::not_supported;
    c.why = Why::equivalent;
  } else if (holds(Decision::below, ci, r.margin)) {
    c.verdict = Verdict::not_supported;
    c.why = c.ci_high < 0 ? Why::opposite : Why::too_small;
  } else {
    c.seeds_needed = seeds_for_margin(c.n, c.sd, r);
  }
  return c;
}

CellDecision decide_cell(const std::vector<double>& d, double margin) {
  return decide_cell(exact_sample(d), CellRule{margin, Method::t, 0.0, true});
}

double decision_level(const CellSample& s, const CellRule& r, const CellDecision& c) {
  if (c.n < 2) return 1.0;
  if (c.verdict == Verdict::supported) return attained(Decision::supported, s, r, c.mean);
  if (c.why == Why::equivalent) return attained(Decision::equivalent, s, r, c.mean);
  if (c.verdict == Verdict::not_supported) return attained(Decision::below, s, r, c.mean);
  double p = std::min(attained(Decision::supported, s, r, c.mean), attained(Decision::below, s, r, c.mean));
  if (r.equivalence && r.margin > 0) p = std::min(p, attained(Decision::equivalent, s, r, c.mean));
  return p;
}

}  // namespace normlab
