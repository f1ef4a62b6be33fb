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
    hits += decide_cell(d, margin).verdict == Verdict::supported;
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
  CHECK(c.verdict == Verdict::supported);
}

TEST_CASE("claims interval: verdicts against the margin, with the reason and the seeds needed") {
  // A precise effect inside (-margin, margin) is "not supported: equivalent", not hidden.
  const CellDecision small = decide_cell({0.086, 0.088, 0.090, 0.092, 0.089}, 0.2);
  CHECK(small.verdict == Verdict::not_supported);
  CHECK(small.why == Why::equivalent);
  // Upper bound below the margin and above 0, lower bound below -margin: "too small".
  // d = -0.1, -0.05, 0: mean -0.05, sd 0.05, t(.975, 2) = 4.302653 -> [-0.1742, 0.0742], margin 0.1.
  const CellDecision tiny = decide_cell({-0.1, -0.05, 0.0}, 0.1);
  CHECK(tiny.ci_low == doctest::Approx(-0.05 - 4.302653 * 0.05 / std::sqrt(3.0)).epsilon(1e-6));
  CHECK(tiny.ci_high == doctest::Approx(-0.05 + 4.302653 * 0.05 / std::sqrt(3.0)).epsilon(1e-6));
  CHECK(tiny.verdict == Verdict::not_supported);
  CHECK(tiny.why == Why::too_small);
  const CellDecision opposite = decide_cell({-0.5, -0.4, -0.6, -0.45}, 0.1);
  CHECK(opposite.verdict == Verdict::not_supported);
  CHECK(opposite.why == Why::opposite);
  // Wide spread around an effect above the margin: undecided, but more seeds would decide.
  const CellDecision wide = decide_cell({0.1, 0.9, 0.3, 0.7}, 0.2);
  CHECK(wide.verdict == Verdict::inconclusive);
  CHECK(wide.seeds_needed > 4);
  const CellDecision again = decide_cell(std::vector<double>(wide.seeds_needed, 0.5), 0.2);
  CHECK(again.verdict == Verdict::supported);  // sanity: zero spread with that n clears the margin
  CHECK(decide_cell({0.2, 0.1, 0.3}, 0.2).seeds_needed == -1);  // mean on the margin: no n decides it
  CHECK(decide_cell({0.5}, 0.2).verdict == Verdict::inconclusive);     // one seed has no spread
}

TEST_CASE("claims interval: equivalence, the whole interval inside (-margin, margin)") {
  // d = -0.01, 0.01, 0, 0.02: mean 0.005, sd 0.0129099, t(.975, 3) = 3.182446
  // -> half 0.0205425, interval [-0.0155, 0.0255].
  const std::vector<double> d = {-0.01, 0.01, 0.0, 0.02};
  const double half = 3.182446 * 0.0129099 / 2;
  const CellDecision in = decide_cell(d, 0.03);
  CHECK(in.ci_low == doctest::Approx(0.005 - half).epsilon(1e-5));
  CHECK(in.ci_high == doctest::Approx(0.005 + half).epsilon(1e-5));
  CHECK(in.verdict == Verdict::not_supported);
  CHECK(in.why == Why::equivalent);
  // Margin 0.02: the upper bound 0.0255 is above it, so undecided, not equivalent.
  CHECK(decide_cell(d, 0.02).verdict == Verdict::inconclusive);
  // Equivalence is checked before "opposite": a negative effect inside (-m, 0).
  const CellDecision neg = decide_cell({-0.02, -0.021, -0.019}, 0.05);
  CHECK(neg.ci_high < 0);
  CHECK(neg.why == Why::equivalent);
  // ... but a lower bound at or below -margin is "opposite".
  CHECK(decide_cell({-0.5, -0.4, -0.6, -0.45}, 0.1).why == Why::opposite);
  // Margin 0: no equivalence region; a negative interval is opposite.
  CHECK(decide_cell({-0.02, -0.021, -0.019}, 0.0).why == Why::opposite);
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
