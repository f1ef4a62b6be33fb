// PELT with the normal mean-change cost (history/changepoint.h).
//   cost(a, b) = sum_{a <= t < b} (x_t - mean_ab)^2 / sigma^2 = (S2 - S1^2 / (b - a)) / sigma^2
//   F(0) = -beta; F(t) = min_{tau in R_t, t - tau >= L} F(tau) + cost(tau, t) + beta
//   pruning: tau leaves R once F(tau) + cost(tau, t) > F(t) (the constant K is 0 for this cost).
#include "history/changepoint.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "bench/gate.h"

namespace normlab {

double successive_sigma(const std::vector<double>& x) {
  if (x.size() < 3) return 0;
  double ss = 0;
  for (std::size_t i = 1; i < x.size(); ++i) ss += (x[i] - x[i - 1]) * (x[i] - x[i - 1]);
  return std::sqrt(ss / (2.0 * double(x.size() - 1)));
}

namespace {

struct Prefix {
  std::vector<double> s1, s2;
  explicit Prefix(const std::vector<double>& x) : s1(x.size() + 1, 0), s2(x.size() + 1, 0) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      s1[i + 1] = s1[i] + x[i];
      s2[i + 1] = s2[i] + x[i] * x[i];
    }
  }
  double mean(std::size_t a, std::size_t b) const { return (s1[b] - s1[a]) / double(b - a); }
  double cost(std::size_t a, std::size_t b, double var) const {
    const double s = s1[b] - s1[a];
    return std::max(0.0, s2[b] - s2[a] - s * s / double(b - a)) / var;
  }
};

// The last change before each end point, by PELT.
std::vector<std::size_t> pelt(const Prefix& p, std::size_t n, double var, double beta, std::size_t L) {
  std::vector<double> F(n + 1, std::numeric_limits<double>::infinity());
  std::vector<std::size_t> last(n + 1, 0);
  F[0] = -beta;
  std::vector<std::size_t> R = {0};
  for (std::size_t t = L; t <= n; ++t) {
    std::vector<double> cand(R.size(), std::numeric_limits<double>::infinity());
    for (std::size_t k = 0; k < R.size(); ++k)
      if (t - R[k] >= L && std::isfinite(F[R[k]])) {
        cand[k] = F[R[k]] + p.cost(R[k], t, var);
        if (cand[k] + beta < F[t]) F[t] = cand[k] + beta, last[t] = R[k];
      }
    std::vector<std::size_t> keep;
    for (std::size_t k = 0; k < R.size(); ++k)
      if (t - R[k] < L || cand[k] <= F[t]) keep.push_back(R[k]);
    if (t + L <= n || t == n) keep.push_back(t);  // t may start a segment later
    R = std::move(keep);
  }
  return last;
}

}  // namespace

std::vector<ChangePoint> detect_change_points(const std::vector<double>& x, const ChangePointOptions& opt) {
  const std::size_t n = x.size(), L = std::size_t(std::max(1, opt.min_segment));
  if (n < 2 * L) return {};
  const double sigma = opt.sigma > 0 ? opt.sigma : successive_sigma(x);
  if (!(sigma > 0)) return {};
  const Prefix p(x);
  const auto last = pelt(p, n, sigma * sigma, opt.penalty * std::log(double(n)), L);
  std::vector<std::size_t> cuts;  // segment starts after the first, found backwards from n
  for (std::size_t t = n; last[t] > 0; t = last[t]) cuts.push_back(last[t]);
  std::reverse(cuts.begin(), cuts.end());
  std::vector<ChangePoint> out;
  for (std::size_t k = 0; k < cuts.size(); ++k) {
    const std::size_t a = k == 0 ? 0 : cuts[k - 1], c = cuts[k], b = k + 1 < cuts.size() ? cuts[k + 1] : n;
    ChangePoint cp;
    cp.index = c;
    cp.before = p.mean(a, c);
    cp.after = p.mean(c, b);
    const double z = std::abs(cp.after - cp.before) / (sigma * std::sqrt(1.0 / double(c - a) + 1.0 / double(b - c)));
    cp.confidence = 1 - 2 * normal_upper_p(z);
    out.push_back(cp);
  }
  return out;
}

double theil_sen_slope(const std::vector<double>& x) {
  std::vector<double> s;
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t j = i + 1; j < x.size(); ++j) s.push_back((x[j] - x[i]) / double(j - i));
  return s.empty() ? 0 : median_of(s);
}

}  // namespace normlab
