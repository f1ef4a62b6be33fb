// The speed gate's statistics (bench/gate.h) and step detection over a
// history (history/changepoint.h, history/series.h), on exact small cases and
// on simulations with this machine's measured timing noise.
//
// The noise, as sd of log(time), measured on this machine (2 shared cores,
// other builds running) with the 4 norm cases of shape 128x1024, 25 runs of
// 5 repeats (cli_history_aa-real prints both):
//   repeat noise: the spread of one case's repeat medians within a run (0.030;
//                 an earlier 8 runs of 7 repeats: 0.039, the larger is used);
//   run noise:    the spread of a case's median from one process to the next
//                 beyond what its repeats explain. Two measurements: 8 runs
//                 of 7 repeats with the machine otherwise as usual: 0.018
//                 between runs' medians, which the repeats alone explain
//                 (1.2533 x 0.039 / sqrt(7) = 0.0185), so none; 25 runs of 5
//                 repeats while two compilers ran beside them: 0.044, of which
//                 1.2533 x 0.030 / sqrt(5) = 0.017 is repeat noise, so
//                 sqrt(0.044^2 - 0.017^2) = 0.040.
// The checks use the first (kRunNoise); each simulation also prints its rates
// under the second (kLoadedRunNoise), where they are not met: a 15% step is
// then 3.4 sd of a night's median, and an off-by-one location is common.
// NORMLAB_SIM_NOISE="REPEAT,RUN" overrides them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <random>

#include "bench/gate.h"
#include "core/errors.h"
#include "history/changepoint.h"
#include "history/record.h"
#include "history/series.h"

using namespace normlab;

namespace {

constexpr double kRepeatNoise = 0.039, kRunNoise = 0.0, kLoadedRunNoise = 0.040;

struct Noise {
  double repeat = 0.0, run = 0.0;
};

Noise sim_noise() {
  Noise n{kRepeatNoise, kRunNoise};
  if (const char* v = std::getenv("NORMLAB_SIM_NOISE"); v && *v) std::sscanf(v, "%lf,%lf", &n.repeat, &n.run);
  return n;
}

// One process's repeats of a case: a run-level offset, then each repeat's own noise.
std::vector<double> draw(std::mt19937_64& rng, int n, double level, const Noise& sd) {
  std::normal_distribution<double> rep(0, sd.repeat), run(0, sd.run);
  const double l = level * std::exp(run(rng));
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(l * std::exp(rep(rng)));
  return v;
}

}  // namespace

TEST_CASE("mann-whitney: exact tail probabilities of small samples") {
  // All of X above all of Y: one order of C(6,3) = 20.
  CHECK(mann_whitney_greater_p({4, 5, 6}, {1, 2, 3}) == doctest::Approx(1.0 / 20));
  CHECK(mann_whitney_greater_p({1, 2, 3}, {4, 5, 6}) == doctest::Approx(1.0));
  // U = 8 of 9 for m = n = 3: the orders with U >= 8 are 2 of 20.
  CHECK(mann_whitney_greater_p({2.5, 5, 6}, {1, 3, 2}) == doctest::Approx(2.0 / 20));
  // m = n = 7, complete separation: 1 / C(14, 7) = 1 / 3432.
  CHECK(mann_whitney_greater_p({8, 9, 10, 11, 12, 13, 14}, {1, 2, 3, 4, 5, 6, 7}) == doctest::Approx(1.0 / 3432));
  // Ties use the normal approximation: identical samples are not significant.
  CHECK(mann_whitney_greater_p({1, 1, 1, 1}, {1, 1, 1, 1}) == doctest::Approx(1.0));
}

TEST_CASE("holm: step-down adjustment with a running maximum") {
  const auto a = holm_adjust({0.01, 0.04, 0.03, 0.5});
  CHECK(a[0] == doctest::Approx(0.04));
  CHECK(a[2] == doctest::Approx(0.09));
  CHECK(a[1] == doctest::Approx(0.09));  // 0.04 x 2 = 0.08, raised to the running maximum
  CHECK(a[3] == doctest::Approx(0.5));
}

TEST_CASE("gate: flags only a slowdown that is both clear and beyond the threshold") {
  GateOptions o;  // alpha 0.05, threshold 5%
  const std::vector<double> base = {1.00, 1.01, 0.99, 1.02, 0.98, 1.00, 1.01};
  std::vector<double> slow3, slow20;
  for (double v : base) slow3.push_back(v * 1.03 + 0.001), slow20.push_back(v * 1.2);
  const auto r = speed_gate({{"a", base, slow20, {}}, {"b", base, slow3, {}}, {"c", base, base, {}}}, o);
  CHECK(r[0].flagged);
  CHECK_FALSE(r[1].flagged);  // clear, but 3% is below the practical threshold
  CHECK_FALSE(r[2].flagged);
  // History spread: a median far outside the history's own spread, 20% slower.
  const auto h = speed_gate({{"h", {}, {1.2, 1.21, 1.19}, {1.0, 1.02, 0.99, 1.01, 1.0}}}, o);
  CHECK(h[0].method == GateMethod::history_spread);
  CHECK(h[0].flagged);
}

namespace {

struct GateRates {
  int slow20 = 0, slow10 = 0, others = 0, worst = 0, aa = 0;
};

// 20 trials each: case 0 of 8 slowed by 20%, by 10%, and none (A/A).
GateRates simulate_gate(const Noise& sd, double threshold, std::uint64_t seed) {
  const int cases = 8, repeats = 7, trials = 20;
  std::mt19937_64 rng(seed);
  GateOptions go;
  go.threshold = threshold;
  auto run = [&](double slowdown) {
    std::vector<int> flags(cases, 0);
    for (int t = 0; t < trials; ++t) {
      std::vector<GateCase> cs;
      for (int c = 0; c < cases; ++c)
        cs.push_back({"case" + std::to_string(c), draw(rng, repeats, 1e-3 * (c + 1), sd),
                      draw(rng, repeats, 1e-3 * (c + 1) * (c == 0 ? 1 + slowdown : 1), sd), {}});
      const auto r = speed_gate(cs, go);
      bool any = false;
      for (int c = 0; c < cases; ++c) flags[c] += r[c].flagged, any |= r[c].flagged;
      flags.push_back(any);
    }
    return flags;
  };
  GateRates g;
  const auto f20 = run(0.20), f10 = run(0.10), f0 = run(0.0);
  g.slow20 = f20[0];
  g.slow10 = f10[0];
  for (int c = 1; c < cases; ++c) g.others += f20[c] + f10[c], g.worst = std::max({g.worst, f20[c], f10[c]});
  for (std::size_t t = cases; t < f0.size(); ++t) g.aa += f0[t];
  std::printf("gate simulation (noise sd %.4f per repeat, %.4f per run, of log time; %d cases x %d repeats, alpha "
              "0.05 Holm, threshold %.0f%%):\n  20%% slowdown flagged %d/%d; 10%% slowdown flagged %d/%d; other "
              "cases flagged %d times in %d (at most %d for one case); A/A comparisons with any flag: %d/%d\n",
              sd.repeat, sd.run, cases, repeats, 100 * threshold, g.slow20, trials, g.slow10, trials, g.others,
              2 * trials * (cases - 1), g.worst, g.aa, trials);
  return g;
}

}  // namespace

// The gate's two tests, each where it is valid:
//  - Mann-Whitney on repeats: --baseline-binary runs every round as a fresh
//    process of each binary, so the repeats carry the run-to-run noise: it is
//    simulated with repeat noise alone (each repeat an independent process).
//  - the history's spread: the nightly compares one run's median with the last
//    10 commits' medians on this machine; each median carries a run offset.
TEST_CASE("gate simulation (Mann-Whitney): 20% slowdown flagged >= 19/20 and other cases <= 1/20 each (10% rate printed)") {
  const Noise sd = sim_noise();
  const GateRates m = simulate_gate({sd.repeat, 0.0}, 0.05, 20261203);
  CHECK(m.slow20 >= 19);
  CHECK(m.worst <= 1);
  CHECK(m.aa <= 1);
}

namespace {

struct HistoryRates {
  int h20 = 0, h10 = 0, others = 0, aa = 0;
};

// 20 trials each: case 0 of 8 slowed by 20%, 10%, none, against 10 nights of medians.
HistoryRates simulate_history_gate(const Noise& sd) {
  const int cases = 8, repeats = 5, nights = 10, trials = 20;
  std::mt19937_64 rng(99);
  HistoryRates out;
  for (double slowdown : {0.20, 0.10, 0.0})
    for (int t = 0; t < trials; ++t) {
      std::vector<GateCase> cs;
      for (int c = 0; c < cases; ++c) {
        GateCase g;
        g.name = "case" + std::to_string(c);
        for (int n = 0; n < nights; ++n) g.history_medians.push_back(median_of(draw(rng, repeats, 1e-3, sd)));
        g.candidate = draw(rng, repeats, 1e-3 * (c == 0 ? 1 + slowdown : 1), sd);
        cs.push_back(g);
      }
      const auto r = speed_gate(cs, GateOptions{0.05, 0.05});
      bool any = false;
      for (int c = 0; c < cases; ++c) any |= r[c].flagged;
      if (slowdown == 0.0) out.aa += any;
      if (slowdown == 0.20) out.h20 += r[0].flagged;
      if (slowdown == 0.10) out.h10 += r[0].flagged;
      for (int c = 1; c < cases && slowdown > 0; ++c) out.others += r[c].flagged;
    }
  std::printf("gate simulation, history spread (noise sd %.4f per repeat, %.4f per run; 8 cases, 10 nights x 5 "
              "repeats, alpha 0.05 Holm, threshold 5%%):\n  20%% slowdown flagged %d/20; 10%% slowdown flagged "
              "%d/20; other cases flagged %d times in 280; A/A comparisons with any flag: %d/20\n",
              sd.repeat, sd.run, out.h20, out.h10, out.others, out.aa);
  return out;
}

struct StepRates {
  int right = 0, false_steps = 0;
};

// 100 histories of 30 commits, a 15% step at commit 17, through history show's own summary.
StepRates simulate_steps(const Noise& sd) {
  const int histories = 100, commits = 30, at = 17, repeats = 5;
  std::mt19937_64 rng(7);
  StepRates out;
  for (int h = 0; h < histories; ++h) {
    Series s;
    s.kind = SeriesKind::speed;
    s.name = "sim";
    for (int c = 0; c < commits; ++c) {
      const auto reps = draw(rng, repeats, 1e-3 * (c >= at ? 1.15 : 1.0), sd);
      s.points.push_back({"c" + std::to_string(c), "", median_of(reps), reps, "", 0});
    }
    bool found = false;
    for (const auto& st : summarize(s, 0.05, ChangePointOptions{}).steps)
      if (st.commit == "c" + std::to_string(at)) found = true;
      else ++out.false_steps;
    out.right += found;
  }
  std::printf("step simulation (noise sd %.4f per repeat, %.4f per commit, of log time; %d repeats per commit, %d "
              "commits, 15%% step at commit %d): right commit in %d/%d histories, %d false steps in total\n",
              sd.repeat, sd.run, repeats, commits, at, out.right, histories, out.false_steps);
  return out;
}

}  // namespace

TEST_CASE("gate simulation (history spread): 10 nights of medians - 20% flagged >= 19/20 and A/A <= 1/20") {
  const HistoryRates r = simulate_history_gate(sim_noise());
  CHECK(r.h20 >= 19);
  CHECK(r.others <= 2);
  CHECK(r.aa <= 1);
  simulate_history_gate({sim_noise().repeat, kLoadedRunNoise});  // printed, not checked (see the top)
}

TEST_CASE("pelt: one step found where it is and none in flat noise") {
  std::vector<double> x(40, 0.0);
  for (int i = 20; i < 40; ++i) x[i] = 1.0;
  std::mt19937_64 rng(1);
  std::normal_distribution<double> z(0, 0.1);
  for (auto& v : x) v += z(rng);
  const auto cp = detect_change_points(x, {});
  REQUIRE(cp.size() == 1);
  CHECK(cp[0].index == 20);
  CHECK(cp[0].after - cp[0].before == doctest::Approx(1.0).epsilon(0.15));
  CHECK(cp[0].confidence > 0.999);
  std::vector<double> flat(40);
  for (auto& v : flat) v = z(rng);
  CHECK(detect_change_points(flat, {}).empty());
  CHECK(theil_sen_slope({0, 1, 2, 3, 10}) == doctest::Approx(1.0));
}

TEST_CASE("step simulation: a planted 15% step at the right commit in >= 95/100 histories with <= 5 false steps") {
  const StepRates r = simulate_steps(sim_noise());
  CHECK(r.right >= 95);
  CHECK(r.false_steps <= 5);
  simulate_steps({sim_noise().repeat, kLoadedRunNoise});  // printed, not checked (see the top)
}

TEST_CASE("confirm_flags: a flag stands only when the second timing flags the case too") {
  std::vector<GateResult> first(4);
  for (int i = 0; i < 4; ++i) first[i].name = "c" + std::to_string(i), first[i].ratio = 1.3, first[i].flagged = i < 3;
  std::vector<GateResult> again(2);
  again[0].name = "c0", again[0].ratio = 1.28, again[0].p_holm = 0.01, again[0].flagged = true;
  again[1].name = "c1", again[1].ratio = 1.02, again[1].p_holm = 0.6, again[1].flagged = false;
  const auto r = confirm_flags(first, again);
  CHECK((r[0].flagged && r[0].retimed && r[0].again_ratio == 1.28 && r[0].again_p_holm == 0.01));
  CHECK((!r[1].flagged && r[1].retimed && r[1].again_ratio == 1.02));
  CHECK((r[2].flagged && !r[2].retimed));   // not timed again: the flag is kept, never hidden
  CHECK((!r[3].flagged && !r[3].retimed));  // unflagged cases are left alone
}

namespace {

struct BurstRates {
  int aa_first = 0, aa_confirmed = 0, slow20_first = 0, slow20_confirmed = 0;
};

// The A/A test's setting (4 cases, 5 recorded runs of 5 repeats, tolerance
// 10%) with heavy-tailed noise: each case's timing in a run is hit, with
// probability p, by a burst of load that makes it `burst` slower (the CI
// machine's two false alarms were 13% and 17% with the measured sd at 0.035).
BurstRates simulate_bursts(const Noise& sd, double p, double burst, int trials) {
  const int cases = 4, repeats = 5, nights = 5;
  std::mt19937_64 rng(20261205);
  std::bernoulli_distribution hit(p);
  auto timing = [&](double level) {
    auto v = draw(rng, repeats, level, sd);
    if (hit(rng))
      for (auto& x : v) x *= 1 + burst;
    return v;
  };
  BurstRates out;
  for (double slowdown : {0.0, 0.20})
    for (int t = 0; t < trials; ++t) {
      std::vector<GateCase> cs;
      for (int c = 0; c < cases; ++c) {
        GateCase g;
        g.name = "case" + std::to_string(c);
        for (int n = 0; n < nights; ++n) g.history_medians.push_back(median_of(timing(1e-3)));
        g.candidate = timing(1e-3 * (c == 0 ? 1 + slowdown : 1));
        cs.push_back(g);
      }
      const GateOptions go{0.05, 0.10};
      const auto first = speed_gate(cs, go);
      for (auto& g : cs) g.candidate = timing(1e-3 * (g.name == "case0" ? 1 + slowdown : 1));  // timed again
      const auto r = confirm_flags(first, speed_gate(cs, go));
      bool any_first = false, any = false;
      for (int c = 0; c < cases; ++c) any_first |= first[c].flagged, any |= r[c].flagged;
      if (slowdown == 0.0) out.aa_first += any_first, out.aa_confirmed += any;
      else out.slow20_first += first[0].flagged, out.slow20_confirmed += r[0].flagged;
    }
  std::printf("gate simulation with bursts (noise sd %.4f per repeat, %.4f per run; a %.0f%% burst in %.0f%% of "
              "timings; 4 cases, 5 nights x 5 repeats, alpha 0.05 Holm, threshold 10%%, %d trials):\n  A/A with "
              "any flag: %d on the first timing, %d confirmed; 20%% slowdown flagged %d on the first timing, %d "
              "confirmed\n",
              sd.repeat, sd.run, 100 * burst, 100 * p, trials, out.aa_first, out.aa_confirmed, out.slow20_first,
              out.slow20_confirmed);
  return out;
}

}  // namespace

// (A 20% slowdown is missed more often here than without bursts, on either
// timing: a burst among the 5 recorded runs widens the history's spread.)
TEST_CASE("gate simulation with bursts of load: the second timing keeps A/A false alarms <= 5% and 20% slowdowns") {
  const BurstRates r = simulate_bursts(sim_noise(), 0.05, 0.15, 200);
  CHECK(r.aa_first > 10);                                 // one timing: false alarms above 5% of 200
  CHECK(r.aa_confirmed <= 10);                            // confirmed: <= 5% of 200
  CHECK(r.slow20_confirmed >= 0.9 * r.slow20_first);      // and at most a tenth of the detections lost
  const BurstRates quiet = simulate_bursts(sim_noise(), 0.0, 0.0, 200);
  CHECK(quiet.slow20_confirmed >= 190);                   // without bursts: >= 95% of 200
  CHECK(quiet.aa_confirmed <= 10);
}

TEST_CASE("history record: a build with uncommitted changes or outside git files its figures under no default commit") {
  CHECK(normlab::default_record_commit("0123456789ab") == "0123456789ab");
  for (const char* stamp : {"0123456789ab-dirty", "unknown", "0123456789a", "0123456789AB", ""}) {
    INFO(stamp);
    try {
      normlab::default_record_commit(stamp);
      FAIL("accepted");
    } catch (const normlab::ConfigError& e) {
      const std::string m = e.what();
      CHECK(m.find(std::string("'") + stamp + "'") != std::string::npos);
      CHECK(m.find("--commit") != std::string::npos);
    }
  }
}
