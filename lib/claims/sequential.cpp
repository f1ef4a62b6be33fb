// Group-sequential levels (design in sequential.h). The recursion works on the
// B-value scale B(t) ~ N(0, t) with independent increments: g_j is the sub-density
// of B(t_j) on paths that have not crossed b_1..b_j (b_j = c_j √t_j),
//   g_1(b) = φ(b / √t_1) / √t_1,                      b < b_1
//   g_j(b) = ∫ g_{j-1}(u) φ((b - u) / √Δ) / √Δ du,     b < b_j, Δ = t_j - t_{j-1}
// and the probability of crossing first at look j is
//   ∫ g_{j-1}(u) (1 - Φ((b_j - u) / √Δ)) du,
// set equal to α*(t_j) - α*(t_{j-1}) by bisection on b_j. Integrals by the trapezoid
// rule on a grid of step 0.01 √t from -9 √t (beyond it the density is < 1e-18).
#include "claims/sequential.h"

#include <boost/math/distributions/normal.hpp>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace normlab {

namespace {
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI); }
double z_of(double p) { return boost::math::quantile(boost::math::normal(), p); }

struct Density {
  std::vector<double> b, g;  // grid points and the sub-density there
};

double integral(const Density& d, auto f) {
  double s = 0;
  for (std::size_t i = 1; i < d.b.size(); ++i) s += 0.5 * (d.b[i] - d.b[i - 1]) * (d.g[i] * f(d.b[i]) + d.g[i - 1] * f(d.b[i - 1]));
  return s;
}

std::vector<double> grid(double t, double upper) {
  const double h = 0.01 * std::sqrt(t), lo = -9 * std::sqrt(t);
  std::vector<double> b;
  for (double x = lo; x < upper; x += h) b.push_back(x);
  b.push_back(upper);
  return b;
}
}  // namespace

std::vector<int> look_schedule(int n0, int cap) {
  if (n0 < 1 || cap < n0) throw std::invalid_argument("look_schedule: need 1 <= n0 <= cap");
  const int R = std::min(3, cap - n0);
  std::vector<int> looks = {n0};
  for (int j = 1; j <= R; ++j) looks.push_back(n0 + int(std::lround(double(j) * (cap - n0) / R)));
  return looks;
}

double obf_spent(double t, double alpha) { return 2 - 2 * Phi(z_of(1 - alpha / 2) / std::sqrt(t)); }

std::vector<double> nominal_levels(const std::vector<double>& t, double alpha) {
  std::vector<double> out;
  Density d;
  double spent = 0;
  for (std::size_t j = 0; j < t.size(); ++j) {
    const double target = obf_spent(t[j], alpha) - spent;
    double bj;
    if (j == 0) {
      bj = z_of(1 - target) * std::sqrt(t[0]);
    } else {
      const double sd = std::sqrt(t[j] - t[j - 1]);
      const auto cross = [&](double b) { return integral(d, [&](double u) { return 1 - Phi((b - u) / sd); }); };
      double lo = -10, hi = 20;  // cross() falls from ~the mass left to 0 over [lo, hi]
      for (int it = 0; it < 100; ++it) {
        const double mid = 0.5 * (lo + hi);
        (cross(mid) > target ? lo : hi) = mid;
      }
      bj = hi;
    }
    out.push_back(1 - Phi(bj / std::sqrt(t[j])));
    spent = obf_spent(t[j], alpha);
    // The continuation sub-density at this look.
    Density next;
    next.b = grid(t[j], bj);
    next.g.resize(next.b.size());
    if (j == 0) {
      for (std::size_t i = 0; i < next.b.size(); ++i) next.g[i] = phi(next.b[i] / std::sqrt(t[0])) / std::sqrt(t[0]);
    } else {
      const double sd = std::sqrt(t[j] - t[j - 1]);
      for (std::size_t i = 0; i < next.b.size(); ++i)
        next.g[i] = integral(d, [&](double u) { return phi((next.b[i] - u) / sd) / sd; });
    }
    d = std::move(next);
  }
  return out;
}

SequentialDesign sequential_design(int n0, int cap) {
  SequentialDesign d;
  d.n0 = n0, d.cap = cap;
  d.looks = look_schedule(n0, cap);
  std::vector<double> t;
  for (int n : d.looks) t.push_back(double(n) / double(cap));
  d.alpha_ci = nominal_levels(t, 0.025);
  d.alpha_tost = nominal_levels(t, 0.05);
  return d;
}

int look_of(const SequentialDesign& d, int n) {
  int j = 0;
  for (std::size_t i = 0; i < d.looks.size(); ++i)
    if (d.looks[i] <= n) j = int(i);
  return j;
}

}  // namespace normlab
