// The cell decision (claims/paired_interval.h) against closed forms and by
// simulation: its false-support rate at the margin and its power above it.
#include <doctest/doctest.h>

#include <random>

#include "claims/paired_interval.h"

using namespace normlab;

namespace {
// Share of `reps` simulated cells with d ~ N(mu, sigma), n seeds, that come out "supported".
double supported_rate(double mu, double sigma, int n, double margin, int reps, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(mu, sigma);
  int hits = 0;
  std::vector<double> d(n);
  for (int r = 0; r < reps; ++r) {
    for (auto& v : d) v = dist(rng);
    hits += decide_cell(d, margin).verdict == "supported";
  }
  return double(hits) / reps;
}
}  // namespace

TEST_CASE("claims interval: t interval of a known sample") {
  // d = 1..5: mean 3, sd sqrt(2.5), t(0.975, 4) = 2.776445105
  const CellDecision c = decide_cell({1, 2, 3, 4, 5}, 0.0);
  CHECK(c.n == 5);
  CHECK(c.mean == doctest::Approx(3.0));
  CHECK(c.sd == doctest::Approx(1.5811388).epsilon(1e-7));
  CHECK(c.ci_low == doctest::Approx(3.0 - 2.776445105 * 1.5811388 / std::sqrt(5.0)).epsilon(1e-7));
  CHECK(c.ci_high == doctest::Approx(3.0 + 2.776445105 * 1.5811388 / std::sqrt(5.0)).epsilon(1e-7));
  CHECK(c.verdict == "supported");
}

TEST_CASE("claims interval: verdicts against the margin, with the reason and the seeds needed") {
  // A precise effect below the margin is "not supported: too small", not hidden.
  const CellDecision small = decide_cell({0.086, 0.088, 0.090, 0.092, 0.089}, 0.2);
  CHECK(small.verdict == "not supported");
  CHECK(small.why == "too small");
  const CellDecision opposite = decide_cell({-0.5, -0.4, -0.6, -0.45}, 0.1);
  CHECK(opposite.verdict == "not supported");
  CHECK(opposite.why == "opposite");
  // Wide spread around an effect above the margin: undecided, but more seeds would decide.
  const CellDecision wide = decide_cell({0.1, 0.9, 0.3, 0.7}, 0.2);
  CHECK(wide.verdict == "inconclusive");
  CHECK(wide.seeds_needed > 4);
  const CellDecision again = decide_cell(std::vector<double>(wide.seeds_needed, 0.5), 0.2);
  CHECK(again.verdict == "supported");  // sanity: zero spread with that n clears the margin
  CHECK(decide_cell({0.2, 0.1, 0.3}, 0.2).seeds_needed == -1);  // mean on the margin: no n decides it
  CHECK(decide_cell({0.5}, 0.2).verdict == "inconclusive");     // one seed has no spread
}

TEST_CASE("claims interval: calibration by simulation, 2000 replications each") {
  const double m = 0.1, sigma = 0.05;
  for (int n : {5, 10}) {
    const double at_margin = supported_rate(m, sigma, n, m, 2000, 11 + n);
    INFO("n = " << n << ", supported at mu = m: " << at_margin);
    CHECK(at_margin <= 0.05);
  }
  const double p5 = supported_rate(m + 2 * sigma, sigma, 5, m, 2000, 21);
  const double p10 = supported_rate(m + 2 * sigma, sigma, 10, m, 2000, 22);
  INFO("supported at mu = m + 2 sigma: n=5 " << p5 << ", n=10 " << p10);
  CHECK(p5 >= 0.80);
  CHECK(p10 > p5);
}
