// Noise-aware speed gate (bench/gate.h).
//   Mann-Whitney U of X (candidate, m values) against Y (baseline, n values):
//     U = #{(i,j): X_i > Y_j} + 0.5 #{X_i = Y_j}. Under H0 every rank order is
//     equally likely; the counts of U are the coefficients of the Gaussian
//     binomial [m+n choose m]_q = prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i).
//     Large samples or ties: z = (U - mn/2 - 1/2) / sd, with
//     sd^2 = mn/12 ((N+1) - sum(t^3 - t) / (N(N-1))), N = m + n.
//   Holm: sort p ascending, p_(k) * (K - k + 1), running maximum, cap 1.
//   History: prediction t = (log x - mean) / (s sqrt(1 + 1/n)), df = n - 1.
//   Confirmation: flagged = flagged(first timing) AND flagged(second timing).
#include "bench/gate.h"

#include <algorithm>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <map>
#include <numeric>

namespace normlab {

namespace {

// Counts of U = 0..m*n over all rank orders (no ties).
std::vector<double> u_counts(int m, int n) {
  std::vector<double> c(std::size_t(m) * n + 1, 0.0);
  c[0] = 1;
  for (int i = 1; i <= m; ++i) {
    // multiply by (1 - q^(n+i)), from the top down
    for (int u = int(c.size()) - 1; u >= n + i; --u) c[u] -= c[u - n - i];
    // divide by (1 - q^i): running sum with stride i
    for (int u = i; u < int(c.size()); ++u) c[u] += c[u - i];
  }
  return c;
}

double u_statistic(const std::vector<double>& x, const std::vector<double>& y, bool* ties) {
  double u = 0;
  *ties = false;
  for (double a : x)
    for (double b : y) {
      if (a > b) u += 1;
      else if (a == b) { u += 0.5; *ties = true; }
    }
  return u;
}

double tie_term(const std::vector<double>& x, const std::vector<double>& y) {
  std::map<double, int> counts;
  for (double a : x) ++counts[a];
  for (double b : y) ++counts[b];
  double s = 0;
  for (const auto& [v, t] : counts) s += double(t) * t * t - t;
  return s;
}

}  // namespace

double normal_upper_p(double z) { return boost::math::cdf(boost::math::complement(boost::math::normal(), z)); }

double student_t_upper_p(double t, double df) {
  return boost::math::cdf(boost::math::complement(boost::math::students_t(df), t));
}

double mann_whitney_greater_p(const std::vector<double>& slower, const std::vector<double>& faster) {
  const int m = int(slower.size()), n = int(faster.size());
  bool ties = false;
  const double u = u_statistic(slower, faster, &ties);
  if (!ties && double(m) * n <= 10000) {
    const auto c = u_counts(m, n);
    const double total = std::accumulate(c.begin(), c.end(), 0.0);
    double tail = 0;
    for (int k = int(std::ceil(u)); k < int(c.size()); ++k) tail += c[k];
    return std::min(1.0, tail / total);
  }
  const double N = m + n, mn = double(m) * n;
  const double var = mn / 12.0 * ((N + 1) - tie_term(slower, faster) / (N * (N - 1)));
  if (var <= 0) return 1.0;
  return normal_upper_p((u - mn / 2 - 0.5) / std::sqrt(var));
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  std::vector<std::size_t> idx(p.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<double> out(p.size());
  double run = 0;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    run = std::max(run, std::min(1.0, p[idx[k]] * double(p.size() - k)));
    out[idx[k]] = run;
  }
  return out;
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double history_spread_p(const std::vector<double>& history_medians, double candidate_median) {
  std::vector<double> l;
  for (double v : history_medians) l.push_back(std::log(v));
  const double n = double(l.size());
  const double mean = std::accumulate(l.begin(), l.end(), 0.0) / n;
  double ss = 0;
  for (double v : l) ss += (v - mean) * (v - mean);
  const double s = std::sqrt(ss / (n - 1));
  if (!(s > 0)) return std::log(candidate_median) > mean ? 0.0 : 1.0;
  return student_t_upper_p((std::log(candidate_median) - mean) / (s * std::sqrt(1 + 1 / n)), n - 1);
}

std::vector<GateResult> speed_gate(const std::vector<GateCase>& cases, const GateOptions& opt) {
  std::vector<GateResult> out;
  std::vector<double> ps;
  for (const auto& c : cases) {
    GateResult r;
    r.name = c.name;
    const double cand = median_of(c.candidate);
    if (!c.history_medians.empty()) {
      r.method = GateMethod::history_spread;
      r.ratio = cand / std::exp([&] {
                  double s = 0;
                  for (double v : c.history_medians) s += std::log(v);
                  return s / double(c.history_medians.size());
                }());
      r.p = history_spread_p(c.history_medians, cand);
    } else {
      r.ratio = cand / median_of(c.baseline);
      r.p = mann_whitney_greater_p(c.candidate, c.baseline);
    }
    ps.push_back(r.p);
    out.push_back(r);
  }
  const auto adj = holm_adjust(ps);
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i].p_holm = adj[i];
    out[i].flagged = adj[i] <= opt.alpha && out[i].ratio > 1 + opt.threshold;
  }
  return out;
}

std::vector<GateResult> confirm_flags(std::vector<GateResult> first, const std::vector<GateResult>& again) {
  for (auto& r : first) {
    if (!r.flagged) continue;
    const auto it = std::find_if(again.begin(), again.end(), [&](const GateResult& a) { return a.name == r.name; });
    if (it == again.end()) continue;
    r.retimed = true;
    r.again_ratio = it->ratio;
    r.again_p_holm = it->p_holm;
    r.flagged = it->flagged;
  }
  return first;
}

}  // namespace normlab
