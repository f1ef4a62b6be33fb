// Claim rules on hand-made tables whose verdicts follow from the definitions
// in claims/rule.h: relative differences (ratios and logs), where-lists,
// contrasts (differences in differences), and tables joined to runs.csv by run_id.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <tuple>

#include "claims/registration.h"
#include "claims/rule.h"
#include "claims_test_util.h"
#include "core/errors.h"

using namespace normlab;

namespace {
using normlab::test::table;

// A "value" rule comparing `treatment` with `control` in `column`, per `each` combination.
ClaimRule value_rule(std::string column, std::string by, std::vector<std::string> each,
                     std::vector<std::string> treatment, std::string control, double margin) {
  ClaimRule r;
  r.metric = Metric::value;
  r.column = std::move(column);
  r.by = std::move(by);
  r.each = std::move(each);
  r.treatment = std::move(treatment);
  r.control = std::move(control);
  r.margin = margin;
  return r;
}
}  // namespace

TEST_CASE("claims rule: relative differences of step times, per combination") {
  // Seed = repeat. batch is 10-30% slower than none in every repeat; layer within +-1%,
  // precisely below the 2% margin.
  const CsvTable t = table({"run_id", "norm", "model", "seed", "median_s"},
                           {{"a", "none", "mlp", "0", "1.0"},  {"b", "batch", "mlp", "0", "1.1"},
                            {"c", "layer", "mlp", "0", "1.01"}, {"d", "none", "mlp", "1", "2.0"},
                            {"e", "batch", "mlp", "1", "2.6"},  {"f", "layer", "mlp", "1", "2.02"},
                            {"g", "none", "mlp", "2", "1.0"},  {"h", "batch", "mlp", "2", "1.2"},
                            {"i", "layer", "mlp", "2", "0.99"}, {"j", "none", "mlp", "3", "2.0"},
                            {"k", "batch", "mlp", "3", "2.4"},  {"l", "layer", "mlp", "3", "2.0"}});
  ClaimRule r = value_rule("median_s", "norm", {"model"}, {"batch"}, "none", 0.02);
  r.relative = Relative::ratio;
  auto res = evaluate_claim(r, t);
  REQUIRE(res.comparisons.size() == 1);
  const auto& b = res.comparisons[0];
  CHECK(b.diffs[0] == doctest::Approx(0.1));
  CHECK(b.diffs[1] == doctest::Approx(0.3));
  // d = .1 .3 .2 .2: mean .2, sd .0816, t(.975, 3) = 3.1824 -> [.0701, .3299]
  CHECK(b.mean == doctest::Approx(0.2));
  CHECK(b.ci_low == doctest::Approx(0.2 - 3.182446 * 0.0816497 / 2).epsilon(1e-5));
  CHECK(b.verdict == Verdict::supported);
  CHECK(res.verdict == ClaimVerdict::supported);
  r.treatment = {"batch", "layer"};
  res = evaluate_claim(r, t);
  CHECK(res.comparisons[1].diffs[0] == doctest::Approx(0.01));
  // d = .01 .01 -.01 0: mean .0025, sd .009574 -> [-.0127, .0177], inside (-0.02, 0.02):
  // below the margin, and only a rule registered as an equivalence test calls it equivalent.
  CHECK(res.comparisons[1].verdict == Verdict::not_supported);
  CHECK(res.comparisons[1].why == Why::too_small);
  CHECK(verdict_text(res) == "depends: supported for batch @ model=mlp; not supported for layer @ model=mlp");
  r.equivalence = true;
  res = evaluate_claim(r, t);
  CHECK(res.comparisons[1].why == Why::equivalent);
  CHECK(res.comparisons[0].verdict == Verdict::supported);
}

TEST_CASE("claims rule: where-lists keep rows with any listed value, compared per each-combination") {
  std::vector<std::vector<std::string>> rows;
  const double running[3][3] = {{0.9, 0.92, 0.91}, {0.9, 0.88, 0.89}, {0.9, 0.9, 0.9}};  // per eval-batch, seed
  const double batch[3][3] = {{0.1, 0.15, 0.12}, {0.8, 0.76, 0.78}, {0.95, 0.96, 0.94}};
  const char* eb[3] = {"1", "4", "1000"};
  int id = 0;
  for (int e = 0; e < 3; ++e)
    for (int sd = 0; sd < 3; ++sd) {
      rows.push_back({std::to_string(id++), "running", eb[e], std::to_string(sd), std::to_string(running[e][sd])});
      rows.push_back({std::to_string(id++), "batch", eb[e], std::to_string(sd), std::to_string(batch[e][sd])});
    }
  const CsvTable t = table({"run_id", "eval-stats", "eval-batch", "seed", "final_test_acc"}, rows);
  ClaimRule r = value_rule("final_test_acc", "eval-stats", {"eval-batch"}, {"running"}, "batch", 0.05);
  r.where = {{"eval-batch", {"1", "4.0"}}};  // numeric match: "4" == "4.0"
  auto res = evaluate_claim(r, t);
  REQUIRE(res.comparisons.size() == 2);
  CHECK(res.comparisons[0].diffs[0] == doctest::Approx(0.8));
  CHECK(res.comparisons[1].diffs[0] == doctest::Approx(0.1));
  CHECK(res.comparisons[1].mean == doctest::Approx(0.11));  // .1 .12 .11: [.0852, .1348] > .05
  CHECK(res.verdict == ClaimVerdict::supported);
  r.where.clear();  // batch 1000: batch statistics win, so the claim as worded fails there
  res = evaluate_claim(r, t);
  REQUIRE(res.comparisons.size() == 3);  // cells in the order of their names: 1, 1000, 4
  CHECK(res.comparisons[1].treatment == "running @ eval-batch=1000");
  CHECK(res.comparisons[1].verdict == Verdict::not_supported);
  CHECK(res.comparisons[1].why == Why::opposite);
  CHECK(verdict_text(res) == "depends: supported for running @ eval-batch=1; running @ eval-batch=4; "
                      "not supported for running @ eval-batch=1000");
  // A positive control that is not supported makes every other cell untestable.
  r.positive_control = {{{"eval-batch", "1000.0"}}};
  res = evaluate_claim(r, t);
  CHECK(res.comparisons[1].positive_control);
  CHECK(res.comparisons[0].verdict == Verdict::untestable);
  CHECK(res.comparisons[0].why == Why::control_failed);
  CHECK(res.comparisons[0].unadjusted == Verdict::supported);  // the cell's own decision is kept beside it
  CHECK(verdict_text(res) == "depends: not supported for running @ eval-batch=1000; untestable for "
                             "running @ eval-batch=1; running @ eval-batch=4");
  r.positive_control = {{{"eval-batch", "1"}}};  // a supported control gates nothing
  CHECK(evaluate_claim(r, t).comparisons[2].verdict == Verdict::supported);
}

TEST_CASE("claims rule: Holm's correction over a claim's cells") {
  // Two cells, each supported on its own (scaled levels about 0.031 and 0.036, both <= 0.05).
  // Holm needs the smaller at 0.05 / 2 = 0.025: it is not, so neither stays decided.
  std::vector<std::vector<std::string>> rows;
  const double dr[2][4] = {{0.28, 0.08, 0.20, 0.12}, {0.27, 0.07, 0.19, 0.11}};
  int id = 0;
  for (int e = 0; e < 2; ++e)
    for (int sd = 0; sd < 4; ++sd) {
      rows.push_back({std::to_string(id++), "running", std::to_string(e), std::to_string(sd), std::to_string(0.5 + dr[e][sd])});
      rows.push_back({std::to_string(id++), "batch", std::to_string(e), std::to_string(sd), "0.5"});
    }
  const CsvTable t = table({"run_id", "eval-stats", "eval-batch", "seed", "final_test_acc"}, rows);
  ClaimRule r = value_rule("final_test_acc", "eval-stats", {"eval-batch"}, {"running"}, "batch", 0.0);
  auto res = evaluate_claim(r, t);
  REQUIRE(res.comparisons.size() == 2);
  for (const auto& c : res.comparisons) {
    CAPTURE(c.level);
    CHECK(c.unadjusted == Verdict::supported);
    CHECK(c.level > 0.025);
    CHECK(c.level <= 0.05);
    CHECK(c.verdict == Verdict::inconclusive);
  }
  CHECK(res.verdict == ClaimVerdict::inconclusive);
  // One cell alone is its own family: decided as before.
  r.where = {{"eval-batch", {"0"}}};
  res = evaluate_claim(r, t);
  CHECK(res.comparisons.at(0).verdict == Verdict::supported);
}

TEST_CASE("claims rule: a per-run table joined to runs.csv by run_id") {
  const CsvTable runs = table({"run_id", "model", "seed", "status"},
                              {{"r0", "mlp", "0", "ok"}, {"r1", "mlp", "1", "ok"}});
  const CsvTable stats = table({"run_id", "layer", "batch", "var_err"},
                               {{"r0", "1", "2", "0.9"}, {"r0", "4", "2", "0.7"}, {"r0", "1", "128", "0.1"},
                                {"r0", "4", "128", "0.1"}, {"r1", "1", "2", "0.3"}, {"r1", "1", "128", "0.2"}});
  const CsvTable j = join_runs(stats, runs);
  CHECK(j.header.size() == 7);  // run_id, layer, batch, var_err + model, seed, status
  CHECK(j.at(4, "seed") == "1");
  const ClaimRule r = value_rule("var_err", "batch", {"model"}, {"2"}, "128", 0.2);
  const auto res = evaluate_claim(r, j);
  // Seed 0: layers averaged, 0.8 - 0.1 = 0.7; seed 1: 0.3 - 0.2 = 0.1 (not above the margin).
  REQUIRE(res.comparisons.size() == 1);
  CHECK(res.comparisons[0].diffs[0] == doctest::Approx(0.7));
  CHECK(res.comparisons[0].diffs[1] == doctest::Approx(0.1));
  CHECK(res.verdict == ClaimVerdict::inconclusive);  // two seeds that disagree: a wide interval
  CHECK(res.comparisons[0].seeds_needed > 2);
  const CsvTable orphan = table({"run_id", "var_err"}, {{"r9", "1"}});
  CHECK_THROWS_AS(join_runs(orphan, runs), ConfigError);
}

namespace {
// Rows "run_id, norm, seed, lr, status, failure, final_test_acc, best_test_acc, steps_done" for a grid.
struct Run {
  std::string norm;
  int seed;
  double lr, acc;
  std::string status = "ok", failure = "";
};
CsvTable runs_table(const std::vector<Run>& rs) {
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < rs.size(); ++i)
    rows.push_back({fmt::format("r{}", i), rs[i].norm, std::to_string(rs[i].seed), std::to_string(rs[i].lr),
                    rs[i].status, rs[i].failure, std::to_string(rs[i].acc), std::to_string(rs[i].acc), "100"});
  return table({"run_id", "norm", "seed", "lr", "status", "failure", "final_test_acc", "best_test_acc", "steps_done"},
               rows);
}
ClaimRule bn_vs_none(Metric metric, double margin, Direction direction = Direction::greater) {
  ClaimRule r;
  r.metric = metric;
  r.treatment = {"batch"};
  r.control = "none";
  r.direction = direction;
  r.margin = margin;
  return r;
}
}  // namespace

TEST_CASE("claims rule: largest_stable_lr, per seed the log10 of the largest lr that trains") {
  // none: stable up to 0.1 (1.0 diverged, 10 collapsed); batch: up to 1.0 in seeds 0, 1 and 10 in seed 2.
  std::vector<Run> rs;
  for (int s = 0; s < 3; ++s) {
    rs.push_back({"none", s, 0.1, 0.9});
    rs.push_back({"none", s, 1.0, 0.1, "diverged"});
    rs.push_back({"none", s, 10.0, 0.1, "ok", "collapsed"});
    rs.push_back({"batch", s, 0.1, 0.9});
    rs.push_back({"batch", s, 1.0, 0.9});
    rs.push_back({"batch", s, 10.0, s == 2 ? 0.8 : 0.3});  // below the floor 0.5 except in seed 2
  }
  ClaimRule r = bn_vs_none(Metric::largest_stable_lr, 0.3);
  r.floor = 0.5;
  const auto res = evaluate_claim(r, runs_table(rs));
  REQUIRE(res.comparisons.size() == 1);
  const auto& c = res.comparisons[0];
  REQUIRE(c.diffs.size() == 3);
  CHECK(c.diffs[0] == doctest::Approx(1.0));  // log10(1) - log10(0.1)
  CHECK(c.diffs[2] == doctest::Approx(2.0));  // log10(10) - log10(0.1)
  // d = 1, 1, 2: grid-valued, so the exact signed-rank interval, which needs 6 seeds at 95%.
  CHECK(c.mean == doctest::Approx(4.0 / 3));
  CHECK(c.cell_rule.method == Method::signed_rank);
  CHECK(c.cell_rule.resolution == doctest::Approx(1.0));  // the grid's step: a decade
  CHECK(std::isinf(c.ci_low));
  CHECK(c.verdict == Verdict::inconclusive);
  // Seed 2's batch run is stable at the grid's top: its largest stable lr is at least 10.
  CHECK(c.sample.censored == 1);
  CHECK(std::isinf(c.sample.hi[2]));
  CHECK(c.sample.lo[2] == doctest::Approx(2.0));
  CHECK(c.seeds_needed == -1);  // a decade's grid cannot resolve the 0.3-decade margin
  CHECK(res.metric.at("none").at(1) == doctest::Approx(-1.0));
}

TEST_CASE("claims rule: lr_range, the decades of lr within `within` of the best accuracy") {
  // batch: 0.01..1 all within 0.02 of its best (2 decades); none: only 0.1 and 0.3 (0.477 decades).
  std::vector<Run> rs;
  const double lrs[4] = {0.01, 0.1, 0.3, 1.0};
  for (int s = 0; s < 6; ++s)
    for (double lr : lrs) {
      rs.push_back({"batch", s, lr, 0.95 - 0.005 * s - (lr == 1.0 ? 0.01 : 0.0)});
      rs.push_back({"none", s, lr, lr == 0.1 || lr == 0.3 ? 0.93 : 0.7});
    }
  ClaimRule r = bn_vs_none(Metric::lr_range, 0.3);
  r.within = 0.02;
  const auto res = evaluate_claim(r, runs_table(rs));
  const auto& c = res.comparisons.at(0);
  for (double d : c.diffs) CHECK(d == doctest::Approx(2.0 - std::log10(3.0)));
  // No spread, but the widths are known only to a grid step (log10(0.3 / 0.1) = 0.477):
  // the interval is never narrower than mean +- 0.477.
  CHECK(c.ci_low == doctest::Approx(c.mean - std::log10(3.0)));
  CHECK(c.ci_high == doctest::Approx(c.mean + std::log10(3.0)));
  CHECK(c.verdict == Verdict::supported);
}

TEST_CASE("claims rule: spread, the standard deviation of a column over another key") {
  // Over four inits per seed: batch's accuracies spread 0.01, none's 0.1 (population sd).
  std::vector<std::vector<std::string>> rows;
  int id = 0;
  for (int s = 0; s < 3; ++s)
    for (int i = 0; i < 4; ++i) {
      const double sign = i % 2 ? 1 : -1;
      rows.push_back({std::to_string(id++), "batch", std::to_string(s), std::to_string(i), std::to_string(0.9 + 0.01 * sign)});
      rows.push_back({std::to_string(id++), "none", std::to_string(s), std::to_string(i),
                      std::to_string(0.8 + (0.1 + 0.01 * s) * sign)});
    }
  ClaimRule r = bn_vs_none(Metric::spread, 0.05, Direction::less);
  r.over = "init";
  const auto res = evaluate_claim(r, table({"run_id", "norm", "seed", "init", "final_test_acc"}, rows));
  const auto& c = res.comparisons.at(0);
  CHECK(res.metric.at("batch").at(0) == doctest::Approx(0.01));
  CHECK(c.diffs[0] == doctest::Approx(0.09));  // none's spread minus batch's ("less" is better)
  CHECK(c.diffs[2] == doctest::Approx(0.11));
  CHECK(c.verdict == Verdict::supported);  // 0.1 +- 4.303 * 0.01 / sqrt(3) = [0.075, 0.125] > 0.05
}

namespace {
// Three seeds of batch (best accuracy 0.9) and none (0.8), evaluated every 20 steps
// to step 100: batch is at 0.85 from step 20 on, none at 0.77 from step 60 (seed 2:
// never above 0.5). Returns the runs table and the test curves.
std::pair<CsvTable, CsvTable> bn_fast_none_slow() {
  std::vector<Run> rs;
  std::vector<std::vector<std::string>> curve;
  for (int s = 0; s < 3; ++s) {
    rs.push_back({"batch", s, 0.1, 0.9});
    rs.push_back({"none", s, 0.1, 0.8});
  }
  CsvTable t = runs_table(rs);
  for (std::size_t i = 0; i < rs.size(); ++i)
    for (int step : {0, 20, 40, 60, 80, 100}) {
      const bool bn = rs[i].norm == "batch";
      const double acc = bn ? (step >= 20 ? 0.85 : 0.1) : (step >= 60 && rs[i].seed != 2 ? 0.77 : 0.5);
      curve.push_back({t.rows[i][0], "test", std::to_string(step), std::to_string(acc)});
    }
  return {t, table({"run_id", "split", "step", "accuracy"}, curve)};
}
}  // namespace

TEST_CASE("claims rule: steps_to_target, the first evaluation at the derived target") {
  // Best accuracies: batch 0.9, none 0.8 in every seed -> target 0.95 * 0.8 = 0.76.
  // batch reaches 0.76 at step 20, none at 60 (seed 2: never, censored at steps_done + 1 = 101).
  const auto [t, curves] = bn_fast_none_slow();
  const ClaimRule r = bn_vs_none(Metric::steps_to_target, 25, Direction::less);
  const auto res = evaluate_claim(r, t, &curves);
  CHECK(res.target == doctest::Approx(0.76));
  const auto& c = res.comparisons.at(0);
  CHECK(c.diffs[0] == doctest::Approx(40));  // 60 - 20
  CHECK(c.diffs[2] == doctest::Approx(81));  // 101 (censored) - 20
  CHECK(c.verdict == Verdict::inconclusive);        // 40, 40, 81: [-3.2, 110.5] straddles 25
  CHECK_THROWS_AS(evaluate_claim(r, t), ConfigError);  // needs curves.csv
}

TEST_CASE("claims rule: steps_to_target derives one target per each-combination") {
  // Model a: best accuracies batch 0.9, none 0.8 -> target 0.76; batch reaches it at step 20,
  // none at 60. Model b: batch 0.5, none 0.4 -> target 0.38; batch at 20, none at 40. A target
  // shared across models (0.38) would let model a's arms both reach it at step 20 (d = 0).
  std::vector<std::vector<std::string>> rows, curve;
  int id = 0;
  for (const std::string model : {"a", "b"})
    for (int s = 0; s < 3; ++s)
      for (const std::string norm : {"batch", "none"}) {
        const bool bn = norm == "batch";
        const double best = model == "a" ? (bn ? 0.9 : 0.8) : (bn ? 0.5 : 0.4);
        const std::string rid = fmt::format("r{}", id++);
        rows.push_back({rid, norm, model, std::to_string(s), "0.1", "ok", "", std::to_string(best),
                        std::to_string(best), "100"});
        for (int step : {0, 20, 40, 60, 80, 100}) {
          double acc = 0.1;
          if (model == "a") acc = bn ? (step >= 20 ? 0.85 : 0.1) : (step >= 60 ? 0.77 : step >= 20 ? 0.5 : 0.1);
          else acc = bn ? (step >= 20 ? 0.45 : 0.1) : (step >= 40 ? 0.39 : 0.1);
          curve.push_back({rid, "test", std::to_string(step), std::to_string(acc)});
        }
      }
  const CsvTable t = table({"run_id", "norm", "model", "seed", "lr", "status", "failure", "final_test_acc",
                            "best_test_acc", "steps_done"}, rows);
  const CsvTable curves = table({"run_id", "split", "step", "accuracy"}, curve);
  ClaimRule r = bn_vs_none(Metric::steps_to_target, 5, Direction::less);
  r.each = {"model"};
  const auto res = evaluate_claim(r, t, &curves);
  REQUIRE(res.comparisons.size() == 2);
  CHECK(res.comparisons[0].target == doctest::Approx(0.76));
  CHECK(res.comparisons[1].target == doctest::Approx(0.38));
  CHECK(res.comparisons[0].diffs[0] == doctest::Approx(40));  // model a: 60 - 20
  CHECK(res.comparisons[1].diffs[0] == doctest::Approx(20));  // model b: 40 - 20
  CHECK(res.target == doctest::Approx(0.38));                 // the claim row: the lowest target
  CHECK(res.note.find("per combination") != std::string::npos);
}

TEST_CASE("claims rule: activation_drift, percentile path length in units of the spread") {
  // Last layer (2) only. batch: percentiles still (drift 0); none: each moves by 1 per point,
  // spread 2 -> drift = (3 percentiles x 2 moves x 1) / (3 x 2) = 1.
  std::vector<Run> rs;
  for (int s = 0; s < 2; ++s) {
    rs.push_back({"batch", s, 0.1, 0.9});
    rs.push_back({"none", s, 0.1, 0.9});
  }
  const CsvTable t = runs_table(rs);
  std::vector<std::vector<std::string>> acts;
  for (std::size_t i = 0; i < rs.size(); ++i)
    for (int k = 0; k < 3; ++k)
      for (int layer : {1, 2}) {
        const double shift = rs[i].norm == "none" && layer == 2 ? k * (1.0 + 0.1 * rs[i].seed) : 0.0;
        acts.push_back({t.rows[i][0], std::to_string(layer), std::to_string(-1 + shift), std::to_string(shift),
                        std::to_string(1 + shift)});
      }
  const CsvTable a = table({"run_id", "layer", "p15", "p50", "p85"}, acts);
  const ClaimRule r = bn_vs_none(Metric::activation_drift, 0.1, Direction::less);
  const auto res = evaluate_claim(r, t, nullptr, &a);
  CHECK(res.metric.at("batch").at(0) == doctest::Approx(0.0));
  CHECK(res.metric.at("none").at(0) == doctest::Approx(1.0));
  CHECK(res.metric.at("none").at(1) == doctest::Approx(1.1));
  const auto& c = res.comparisons.at(0);
  CHECK(c.mean == doctest::Approx(1.05));
  CHECK(c.verdict == Verdict::supported);  // 1.05 +- 12.706 * 0.0707 / sqrt(2) = [0.415, 1.685] > 0.1
}

TEST_CASE("claims rule: select-on val, selection reads the validation split and the metric test") {
  // Per seed, batch at lr 0.1: val 0.90, test 0.80; at lr 1.0: val 0.85, test 0.95. none: 0.5 on both.
  std::vector<std::vector<std::string>> rows;
  for (int s = 0; s < 3; ++s)
    for (const auto& [norm, lr, val, test] :
         std::vector<std::tuple<std::string, std::string, double, double>>{
             {"batch", "0.1", 0.90, 0.80}, {"batch", "1", 0.85, 0.95}, {"none", "0.1", 0.5, 0.5}, {"none", "1", 0.5, 0.5}}) {
      const std::string id = norm + lr + "s" + std::to_string(s);
      rows.push_back({id, norm, std::to_string(s), lr, "ok", "", std::to_string(test), std::to_string(test),
                      std::to_string(val), std::to_string(val), "100"});
    }
  const CsvTable t = table({"run_id", "norm", "seed", "lr", "status", "failure", "final_test_acc", "best_test_acc",
                            "final_val_acc", "best_val_acc", "steps_done"},
                           rows);
  ClaimRule r = bn_vs_none(Metric::value, 0.1);
  r.select = Select::best_lr;
  CHECK(evaluate_claim(r, t).comparisons.at(0).mean == doctest::Approx(0.45));  // peeks: lr 1.0 by test
  r.select_on = SelectOn::val;
  CHECK(evaluate_claim(r, t).comparisons.at(0).mean == doctest::Approx(0.30));  // lr 0.1 by val, read on test
  // The floor reads the selection split too: at floor 0.88 only batch's lr 0.1 counts on val.
  ClaimRule st = bn_vs_none(Metric::largest_stable_lr, 0.3);
  st.floor = 0.88;
  st.select_on = SelectOn::val;
  CHECK(evaluate_claim(st, t).metric.at("batch").at(0) == doctest::Approx(-1.0));  // log10(0.1)
  st.select_on = SelectOn::test;
  CHECK(evaluate_claim(st, t).metric.at("batch").at(0) == doctest::Approx(0.0));  // log10(1)

  // steps_to_target: target 0.95 x the lower mean best val accuracy (none's 0.5) = 0.475.
  // batch lr 0.1 reaches it on val at 20 but on test at 60; lr 1.0 at 40 on both.
  // none reaches it at 80 on both. On val the fastest batch lr is 0.1, reported by its test curve: 60.
  std::vector<std::vector<std::string>> curve;
  for (const auto& row : rows)
    for (int step : {0, 20, 40, 60, 80, 100}) {
      const std::string& id = row[0];
      int val_at = 80, test_at = 80;
      if (row[1] == "batch") val_at = row[3] == "0.1" ? 20 : 40, test_at = row[3] == "0.1" ? 60 : 40;
      curve.push_back({id, "val", std::to_string(step), step >= val_at ? "0.9" : "0.1"});
      curve.push_back({id, "test", std::to_string(step), step >= test_at ? "0.9" : "0.1"});
    }
  const CsvTable curves = table({"run_id", "split", "step", "accuracy"}, curve);
  ClaimRule sp = bn_vs_none(Metric::steps_to_target, 10, Direction::less);
  sp.select_on = SelectOn::val;
  const auto res = evaluate_claim(sp, t, &curves);
  CHECK(res.target == doctest::Approx(0.475));
  CHECK(res.metric.at("batch").at(0) == doctest::Approx(60));
  CHECK(res.comparisons.at(0).diffs.at(0) == doctest::Approx(20));  // 80 - 60
  sp.select_on = SelectOn::test;  // selecting on test picks lr 1.0: 80 - 40
  CHECK(evaluate_claim(sp, t, &curves).comparisons.at(0).diffs.at(0) == doctest::Approx(40));
}

namespace {
// Rows "run_id, norm, seed, batch-size, lr, status, failure, final_test_acc, best_test_acc, steps_done".
struct SizedRun {
  std::string norm;
  int seed, batch;
  double lr, acc;
};
CsvTable sized_table(const std::vector<SizedRun>& rs) {
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < rs.size(); ++i)
    rows.push_back({fmt::format("r{}", i), rs[i].norm, std::to_string(rs[i].seed), std::to_string(rs[i].batch),
                    std::to_string(rs[i].lr), "ok", "", std::to_string(rs[i].acc), std::to_string(rs[i].acc), "100"});
  return table({"run_id", "norm", "seed", "batch-size", "lr", "status", "failure", "final_test_acc",
                "best_test_acc", "steps_done"},
               rows);
}
}  // namespace

TEST_CASE("claims rule: contrast, a difference in differences with selection within each side") {
  // Best-lr accuracy per seed s: group 0.80+0.01s at batch 2, 0.90 at 32; batch 0.60-0.02s at 2,
  // 0.92 at 32. Batch 8 rows (0.99) are neither side and must not count. Seed 3 has no group
  // run at batch 32: skipped.
  std::vector<SizedRun> rs;
  for (int s = 0; s < 3; ++s) {
    rs.push_back({"group", s, 2, 0.1, 0.80 + 0.01 * s});
    rs.push_back({"group", s, 2, 1.0, 0.70});
    rs.push_back({"group", s, 32, 0.1, 0.85});
    rs.push_back({"group", s, 32, 1.0, 0.90});
    rs.push_back({"batch", s, 2, 0.1, 0.60 - 0.02 * s});
    rs.push_back({"batch", s, 2, 1.0, 0.50});
    rs.push_back({"batch", s, 32, 0.1, 0.92});
    rs.push_back({"group", s, 8, 0.1, 0.99});
    rs.push_back({"batch", s, 8, 0.1, 0.99});
  }
  rs.push_back({"group", 3, 2, 0.1, 0.5});
  rs.push_back({"batch", 3, 2, 0.1, 0.5});
  rs.push_back({"batch", 3, 32, 0.1, 0.5});
  ClaimRule r = value_rule("final_test_acc", "norm", {}, {"group"}, "batch", 0.1);
  r.select = Select::best_lr;
  r.contrast = "batch-size";
  r.contrast_values = {"2", "32.0"};  // numeric match, as in `where`
  const auto res = evaluate_claim(r, sized_table(rs));
  CHECK(res.note == "metric per group: value at batch-size=2 minus at batch-size=32.0");
  CHECK(res.metric.at("group").at(0) == doctest::Approx(-0.10));
  CHECK(res.metric.at("batch").at(1) == doctest::Approx(0.58 - 0.92));
  CHECK(res.metric.at("group").count(3) == 0);
  const auto& c = res.comparisons.at(0);
  // d_s = [(0.80+0.01s) - 0.90] - [(0.60-0.02s) - 0.92] = 0.22 + 0.03s
  REQUIRE(c.diffs.size() == 3);
  CHECK(c.diffs[0] == doctest::Approx(0.22));
  CHECK(c.diffs[2] == doctest::Approx(0.28));
  // mean .25, sd .03, t(.975, 2) = 4.302653 -> [.1755, .3245] > 0.1
  CHECK(c.ci_low == doctest::Approx(0.25 - 4.302653 * 0.03 / std::sqrt(3.0)).epsilon(1e-5));
  // ... but group's best lr is the grid's bottom (batch 2) and top (batch 32) in every seed,
  // so the cell measures the grid: untestable. batch at 32 has one lr: no edge there.
  CHECK(c.edge_treatment == 3);
  CHECK(c.edge_control == 3);  // batch at 2: lr 0.1, the bottom
  CHECK(c.verdict == Verdict::untestable);
  CHECK(c.why == Why::grid_edge_both);
  CHECK(res.verdict == ClaimVerdict::untestable);
}

TEST_CASE("claims rule: contrast-relative = log, the group's metric is ln(m(a) / m(b))") {
  // Per seed s (one lr): group 0.80 + 0.1s at batch 2 and 0.40 at 32; batch 0.60 at both.
  // Seed 3: batch's value at 32 is 0, whose log ratio is not finite: that seed is left out.
  std::vector<SizedRun> rs;
  for (int s = 0; s < 3; ++s) {
    rs.push_back({"group", s, 2, 0.1, 0.80 + 0.1 * s});
    rs.push_back({"group", s, 32, 0.1, 0.40});
    rs.push_back({"batch", s, 2, 0.1, 0.60});
    rs.push_back({"batch", s, 32, 0.1, 0.60});
  }
  rs.push_back({"group", 3, 2, 0.1, 0.5});
  rs.push_back({"group", 3, 32, 0.1, 0.5});
  rs.push_back({"batch", 3, 2, 0.1, 0.5});
  rs.push_back({"batch", 3, 32, 0.1, 0.0});
  ClaimRule r = value_rule("final_test_acc", "norm", {}, {"group"}, "batch", 0.1);
  r.contrast = "batch-size";
  r.contrast_values = {"2", "32"};
  r.contrast_log = true;
  const auto res = evaluate_claim(r, sized_table(rs));
  CHECK(res.note == "metric per group: ln(value at batch-size=2 / at batch-size=32); "
                    "1 group-seeds left out (a value not positive and finite)");
  CHECK(res.metric.at("group").at(1) == doctest::Approx(std::log(0.9 / 0.4)));
  CHECK(res.metric.at("batch").at(0) == doctest::Approx(0.0));
  CHECK(res.metric.at("batch").count(3) == 0);
  const auto& c = res.comparisons.at(0);
  // d_s = ln((0.8 + 0.1s) / 0.4) - 0, seeds 0..2 (seed 3: no batch value)
  REQUIRE(c.diffs.size() == 3);
  CHECK(c.diffs[0] == doctest::Approx(std::log(2.0)));
  CHECK(c.diffs[2] == doctest::Approx(std::log(2.5)));
  // without it: the differences (0.8 + 0.1s - 0.4) - 0
  r.contrast_log = false;
  CHECK(evaluate_claim(r, sized_table(rs)).comparisons.at(0).diffs[0] == doctest::Approx(0.4));
}

TEST_CASE("claims rule: contrast with steps_to_target derives the target over every (group, side)") {
  // Best accuracies: batch 0.9 at both sizes; none 0.6 at batch 2, 0.8 at 32 -> target
  // 0.95 x 0.6 = 0.57 (pooled over sizes none's best would be 0.8 and the target 0.76).
  // Each run reaches its best (else 0.1) at: batch 20 (size 2), 40 (32); none 60, 60
  // (seed 2 at size 2: 80). Metric per group: steps at 2 minus at 32: batch -20, none 0 (20).
  std::vector<SizedRun> rs;
  for (int s = 0; s < 3; ++s)
    for (int b : {2, 32}) {
      rs.push_back({"batch", s, b, 0.1, 0.9});
      rs.push_back({"none", s, b, 0.1, b == 2 ? 0.6 : 0.8});
    }
  const CsvTable t = sized_table(rs);
  std::vector<std::vector<std::string>> curve;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    const int reach = rs[i].norm == "batch" ? (rs[i].batch == 2 ? 20 : 40)
                                            : (rs[i].batch == 2 && rs[i].seed == 2 ? 80 : 60);
    for (int step : {0, 20, 40, 60, 80, 100})
      curve.push_back({t.rows[i][0], "test", std::to_string(step), std::to_string(step >= reach ? rs[i].acc : 0.1)});
  }
  const CsvTable curves = table({"run_id", "split", "step", "accuracy"}, curve);
  ClaimRule r = bn_vs_none(Metric::steps_to_target, 5, Direction::less);
  r.contrast = "batch-size";
  r.contrast_values = {"2", "32"};
  const auto res = evaluate_claim(r, t, &curves);
  CHECK(res.target == doctest::Approx(0.57));
  CHECK(res.note.rfind("metric per group: steps_to_target at batch-size=2 minus at batch-size=32; target test", 0) == 0);
  CHECK(res.metric.at("batch").at(0) == doctest::Approx(-20));
  CHECK(res.metric.at("none").at(2) == doctest::Approx(20));
  const auto& c = res.comparisons.at(0);
  // "less": d = -(m_batch - m_none) = 20, 20, 40
  CHECK(c.diffs == std::vector<double>{20, 20, 40});
}

TEST_CASE("claims rule: relative = log, d = ln(m_t / m_c), negated for less") {
  // steps_to_target as above without a contrast: batch 20 steps, none 60 (seed 2 censored at 101).
  const auto [t, curves] = bn_fast_none_slow();
  ClaimRule r = bn_vs_none(Metric::steps_to_target, 0.5, Direction::less);
  r.relative = Relative::log;
  const auto res = evaluate_claim(r, t, &curves);
  const auto& c = res.comparisons.at(0);
  CHECK(c.diffs[0] == doctest::Approx(std::log(3.0)));         // ln(60 / 20)
  CHECK(c.diffs[2] == doctest::Approx(std::log(101.0 / 20)));  // ln(101 / 20)
  r.relative = Relative::ratio;  // 20/60 - 1, negated
  CHECK(evaluate_claim(r, t, &curves).comparisons.at(0).diffs[0] == doctest::Approx(2.0 / 3));
  r.direction = Direction::greater;
  r.relative = Relative::log;
  CHECK(evaluate_claim(r, t, &curves).comparisons.at(0).diffs[0] == doctest::Approx(-std::log(3.0)));
}

namespace {
// Writes a claim file whose [rule] ends with `extra` lines, and reads it.
ClaimRule read_rule(const std::string& extra) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("normlab-claim-rule-" + std::to_string(::getpid()) + ".toml")).string();
  std::ofstream(path) << "[claim]\nid = \"x\"\nstatement = \"s\"\n[rule]\nmetric = \"value\"\ntext = \"t\"\n"
                         "control = \"none\"\ntreatment = \"batch\"\ndirection = \"greater\"\n" << extra;
  struct Remove {
    std::string p;
    ~Remove() { std::filesystem::remove(p); }
  } remove{path};
  return read_claim_rule(path);
}
std::string read_error(const std::string& extra) {
  try {
    read_rule(extra);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("claims rule: reading contrast and relative") {
  CHECK(read_rule("").relative == Relative::none);
  CHECK(read_rule("relative = true\n").relative == Relative::ratio);
  CHECK(read_rule("relative = false\n").relative == Relative::none);
  CHECK(read_rule("relative = \"log\"\n").relative == Relative::log);
  CHECK(read_error("relative = \"ln\"\n").find("rule.relative: 'ln' (allowed: true, false, \"log\")") !=
        std::string::npos);
  const ClaimRule c = read_rule("contrast = { batch_size = [2, 32] }\n");
  CHECK(c.contrast == "batch-size");  // canonical spelling, as in where and each
  CHECK(c.contrast_values == std::array<std::string, 2>{"2", "32"});
  CHECK(read_rule("").contrast.empty());
  for (const char* bad : {"contrast = { batch-size = [2, 32, 64] }\n", "contrast = { batch-size = 2 }\n",
                          "contrast = { batch-size = [2, 32], lr = [0.1, 1] }\n", "contrast = \"batch-size\"\n"}) {
    CAPTURE(bad);
    CHECK(read_error(bad).find("rule.contrast: needs exactly one key with two values") != std::string::npos);
  }
  const std::string in_each = read_error("each = [\"batch-size\"]\ncontrast = { batch_size = [2, 32] }\n");
  CHECK(in_each.find("normlab-claim-rule-") != std::string::npos);  // names the file
  CHECK(in_each.find("key 'batch-size' is also in `each`") != std::string::npos);
  CHECK(read_error("by = \"batch-size\"\ncontrast = { batch-size = [2, 32] }\n").find("is also `by`") !=
        std::string::npos);
  CHECK(read_error("contrast = { batch-size = [2, 2.0] }\n").find("the same value twice") != std::string::npos);
  CHECK(read_error("contrast = { no-such-key = [2, 32] }\n").find("unknown key 'no-such-key'") != std::string::npos);
  // contrast-relative: "log" with a contrast of a value metric; in the hash only when set
  const ClaimRule lg = read_rule("contrast = { batch-size = [2, 32] }\ncontrast-relative = \"log\"\n");
  CHECK(lg.contrast_log);
  CHECK(!c.contrast_log);
  CHECK(rule_canonical_text(lg, {}).find("contrast=batch-size=2|32\ncontrast-relative=log\n") != std::string::npos);
  CHECK(rule_canonical_text(c, {}).find("contrast-relative") == std::string::npos);
  for (const char* bad : {"contrast = { batch-size = [2, 32] }\ncontrast-relative = \"ln\"\n",
                          "contrast = { batch-size = [2, 32] }\ncontrast-relative = true\n"}) {
    CAPTURE(bad);
    CHECK(read_error(bad).find("rule.contrast-relative: allowed: \"log\"") != std::string::npos);
  }
  CHECK(read_error("contrast-relative = \"log\"\n").find("rule.contrast-relative: the rule has no `contrast`") !=
        std::string::npos);
  for (const char* rel : {"true", "\"log\""})
    CHECK(read_error(fmt::format("relative = {}\ncontrast = {{ batch-size = [2, 32] }}\ncontrast-relative = \"log\"\n", rel))
              .find("rule.contrast-relative: needs relative = false") != std::string::npos);
  // another metric: refused (read_rule's file says metric = "value", so this file is written here)
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("normlab-claim-rule-lr-" + std::to_string(::getpid()) + ".toml")).string();
  std::ofstream(path) << "[claim]\nid = \"x\"\nstatement = \"s\"\n[rule]\nmetric = \"largest_stable_lr\"\n"
                         "text = \"t\"\ncontrol = \"none\"\ntreatment = \"batch\"\ndirection = \"greater\"\n"
                         "contrast = { batch-size = [2, 32] }\ncontrast-relative = \"log\"\n";
  std::string err;
  try {
    read_claim_rule(path);
  } catch (const ConfigError& e) {
    err = e.what();
  }
  std::filesystem::remove(path);
  CHECK(err.find("rule.contrast-relative: needs metric = \"value\" (a runs.csv column), got \"largest_stable_lr\"") !=
        std::string::npos);
}

TEST_CASE("claims rule: reading positive-control") {
  const ClaimRule one = read_rule("each = [\"model\", \"optimizer\"]\npositive-control = { model = \"mlp\", optimizer = \"sgd\" }\n");
  REQUIRE(one.positive_control.size() == 1);
  CHECK(one.positive_control[0].at("optimizer") == "sgd");
  const ClaimRule two = read_rule("each = [\"steps\"]\npositive-control = [{ steps = 4000 }, { steps = 1000 }]\n");
  CHECK(two.positive_control.size() == 2);
  CHECK(two.positive_control[1].at("steps") == "1000");
  CHECK(read_error("each = [\"model\"]\npositive-control = { optimizer = \"sgd\" }\n")
            .find("rule.positive-control: key 'optimizer' is not in `each` (allowed: model)") != std::string::npos);
  CHECK(read_error("each = [\"model\"]\npositive-control = \"mlp\"\n").find("rule.positive-control: needs a table") !=
        std::string::npos);
  CHECK(read_error("each = [\"model\"]\npositive-control = {}\n").find("rule.positive-control: needs a table") !=
        std::string::npos);
}

namespace {
// dropout-need's shape: per seed s, none gains `none_gain` + 0.01s from dropout 0.5, batch `batch_gain`.
CsvTable dropout_table(double none_gain, double batch_gain = 0.01) {
  std::vector<std::vector<std::string>> rows;
  int i = 0;
  for (int s = 0; s < 4; ++s)
    for (const auto& [norm, gain] : {std::pair<std::string, double>{"none", none_gain + 0.01 * s}, {"batch", batch_gain}})
      for (const auto& [drop, acc] : {std::pair<const char*, double>{"0", 0.80}, {"0.5", 0.80 + gain}})
        rows.push_back({fmt::format("r{}", i++), norm, std::to_string(s), drop, "ok", "", std::to_string(acc),
                        std::to_string(acc), "100"});
  return table({"run_id", "norm", "seed", "dropout", "status", "failure", "final_test_acc", "best_test_acc",
                "steps_done"},
               rows);
}
}  // namespace

TEST_CASE("claims rule: a positive control on the contrast's own effect in one arm") {
  ClaimRule r = value_rule("final_test_acc", "norm", {}, {"none"}, "batch", 0.005);
  r.contrast = "dropout";
  r.contrast_values = {"0.5", "0.0"};
  r.effect_controls.push_back({"none", 0.03});
  // none gains 0.05, 0.06, 0.07, 0.08: the control's d_s; mean 0.065, sd 0.012910,
  // t(.975, 3) = 3.182446 -> [0.04446, 0.08554], above 0.03: supported. The interaction
  // d_s = gain(none) - 0.01 = 0.04 .. 0.07: supported above 0.005.
  const auto ok = evaluate_claim(r, dropout_table(0.05));
  REQUIRE(ok.comparisons.size() == 2);
  const auto& ctl = ok.comparisons.at(1);
  CHECK(ctl.treatment == "none (dropout 0.5 - 0.0)");
  CHECK(ctl.positive_control);
  CHECK_FALSE(ok.comparisons.at(0).positive_control);
  REQUIRE(ctl.diffs.size() == 4);
  CHECK(ctl.diffs[3] == doctest::Approx(0.08));
  CHECK(ctl.ci_low == doctest::Approx(0.065 - 3.182446 * 0.0129099 / 2).epsilon(1e-4));
  CHECK(ctl.verdict == Verdict::supported);
  CHECK(ok.comparisons.at(0).verdict == Verdict::supported);
  CHECK(ok.verdict == ClaimVerdict::supported);
  // none gains 0.01 .. 0.04 (mean 0.025, interval [0.0045, 0.0455]): the control is undecided
  // at 0.03, so the interaction cell (batch loses 0.05: d_s = 0.06 .. 0.09), supported on its
  // own, is untestable.
  const auto weak = evaluate_claim(r, dropout_table(0.01, -0.05));
  CHECK(weak.comparisons.at(1).verdict == Verdict::inconclusive);
  CHECK(weak.comparisons.at(0).unadjusted == Verdict::supported);
  CHECK(weak.comparisons.at(0).verdict == Verdict::untestable);
  CHECK(weak.comparisons.at(0).why == Why::control_undecided);
  // none gains -0.03 .. 0: below the margin, the control failed.
  const auto none = evaluate_claim(r, dropout_table(-0.03));
  CHECK(none.comparisons.at(1).verdict == Verdict::not_supported);
  CHECK(none.comparisons.at(0).why == Why::control_failed);
  // Read from the claim file, and registered: the effect is a line of the rule's text.
  const ClaimRule read = read_rule("contrast = { dropout = [0.5, 0.0] }\n"
                                   "positive-control = [{ effect = \"none\", margin = 0.03 }]\n");
  REQUIRE(read.effect_controls.size() == 1);
  CHECK(read.effect_controls[0].arm == "none");
  CHECK(read.effect_controls[0].margin == 0.03);
  CHECK(read.positive_control.empty());
  CHECK(rule_canonical_text(read, {}).find("positive-control-effect=none:0.029999999999999999\n") != std::string::npos);
  ClaimRule without = read;
  without.effect_controls.clear();
  CHECK(rule_canonical_text(without, {}).find("positive-control-effect") == std::string::npos);
}

TEST_CASE("claims rule: reading a positive control on an effect: every wrong form is an error") {
  const std::string contrast = "contrast = { dropout = [0.5, 0.0] }\n";  // the file's arms: batch, none
  const std::pair<std::string, const char*> cases[] = {
      {"positive-control = { effect = \"none\", margin = 0.03 }\n", "the rule has no `contrast`"},
      {contrast + "relative = true\npositive-control = { effect = \"none\", margin = 0.03 }\n", "needs relative = false"},
      {contrast + "positive-control = { effect = \"layer\", margin = 0.03 }\n",
       "effect = 'layer' is not an arm of the rule (allowed: batch, none)"},
      {contrast + "positive-control = { effect = \"none\" }\n", "needs margin = a number >= 0"},
      {contrast + "positive-control = { effect = \"none\", margin = -0.1 }\n", "needs margin = a number >= 0 (the effect the setting must show), got -0.1"},
      {contrast + "positive-control = { effect = \"none\", margin = \"0.03\" }\n", "margin: 0.03 is a string, not a number"},
      {contrast + "positive-control = { effect = 1, margin = 0.03 }\n", "effect: 1 is an integer, not a string"},
      {contrast + "positive-control = { effect = \"none\", margin = 0.03, model = \"mlp\" }\n",
       "key 'model' beside `effect` (allowed: effect, margin)"},
  };
  for (const auto& [text, want] : cases) {
    const std::string got = read_error(text);
    CAPTURE(text);
    CAPTURE(got);
    CHECK(got.find(want) != std::string::npos);
  }
}

TEST_CASE("claims rule: edge-seeds, the seeds per arm whose selected lr may sit at the grid's edge") {
  // batch beats none by 0.10 in every seed, each arm at its interior lr 0.1; in seed 0 alone
  // batch's best lr is the grid's top (1.0). Closed form: d = 0.10 in every seed.
  std::vector<SizedRun> rs;
  for (int s = 0; s < 6; ++s) {
    const double top = s == 0 ? 0.95 : 0.70;
    rs.push_back({"batch", s, 32, 0.01, 0.70});
    rs.push_back({"batch", s, 32, 0.1, s == 0 ? 0.94 : 0.90 + 0.002 * s});
    rs.push_back({"batch", s, 32, 1.0, top});
    rs.push_back({"none", s, 32, 0.01, 0.60});
    rs.push_back({"none", s, 32, 0.1, 0.80 + 0.002 * s});
    rs.push_back({"none", s, 32, 1.0, 0.60});
  }
  ClaimRule r = value_rule("final_test_acc", "norm", {}, {"batch"}, "none", 0.01);
  r.select = Select::best_lr;
  const auto one = evaluate_claim(r, sized_table(rs)).comparisons.at(0);  // default: one edge seed allowed
  CHECK(one.edge_treatment == 1);
  CHECK(one.edge_control == 0);
  CHECK(one.verdict == Verdict::supported);
  r.edge_seeds = 0;
  const auto none = evaluate_claim(r, sized_table(rs)).comparisons.at(0);
  CHECK(none.verdict == Verdict::untestable);
  CHECK(none.why == Why::grid_edge_up);
  // Read from the claim file: absent is 1; a wrong type or a negative count is an error.
  CHECK(read_rule("").edge_seeds == 1);
  CHECK(read_rule("edge-seeds = 0\n").edge_seeds == 0);
  CHECK(read_error("edge-seeds = -1\n").find("rule.edge-seeds: -1 (allowed: an integer >= 0") != std::string::npos);
  CHECK(read_error("edge-seeds = 0.5\n").find("rule.edge-seeds: 0.5 is a number, not an integer") != std::string::npos);
}

TEST_CASE("claims rule: a wrong type is an error, not the default") {
  // Each key given with a type it does not take: exit 2 naming file:line:col, the key and the type.
  const std::pair<const char*, const char*> cases[] = {
      {"margin = \"0.01\"\n", "rule.margin: 0.01 is a string, not a number"},
      {"tolerance = true\n", "rule.tolerance: true is a boolean, not a number"},
      {"within = [0.02]\n", "rule.within: 0.02 is a list, not a number"},
      {"equivalence = \"yes\"\n", "rule.equivalence: yes is a string, not true or false"},
      {"column = 3\n", "rule.column: 3 is an integer, not a string"},
      {"select-on = 1\n", "rule.select-on: 1 is an integer, not a string"},
      {"by = [\"norm\"]\n", "rule.by: norm is a list, not a string"},
      {"each = \"model\"\n", "rule.each: model is a string, not a list of strings"},
      {"each = [\"model\", 2]\n", "rule.each: 2 is an integer, not a string (in the list)"},
      {"select = \"best_lr\"\n", "rule.select: 'best_lr' (allowed: mean, best-lr)"},
      {"select = true\n", "rule.select: true is a boolean, not a string"},
  };
  for (const auto& [text, want] : cases) {
    const std::string got = read_error(text);
    CAPTURE(text);
    CAPTURE(got);
    CHECK(got.find(want) != std::string::npos);
    CHECK(got.find(".toml:") != std::string::npos);
  }
  // The same keys with their types are read (numbers may be integers).
  const ClaimRule ok = read_rule("margin = 1\ntolerance = 0.5\nequivalence = true\nselect = \"mean\"\n");
  CHECK(ok.margin == 1.0);
  CHECK(ok.equivalence);
  CHECK(ok.select == Select::mean);
}

TEST_CASE("claims rule: es_test_acc and es_test_loss, test read at the best validation evaluation") {
  // Per seed s: batch at lr 0.1 peaks on val at step 40 (0.90; test there 0.86, loss 0.40) and ends
  // at val 0.80 (final test 0.70); at lr 1 it peaks at step 80 with val 0.88 (test 0.84, loss 0.5)
  // but ends higher on val (0.88 final vs lr 0.1's 0.80). none at both lrs: flat 0.5 on val, test
  // 0.50 + 0.01 s, loss 1.0. Early stopping selects by the best val (lr 0.1: 0.90 > 0.88), not the
  // final val (lr 1), and reads test at step 40.
  std::vector<std::vector<std::string>> rows, curve;
  for (int s = 0; s < 3; ++s)
    for (const std::string lr : {"0.1", "1"})
      for (const std::string norm : {"batch", "none"}) {
        const std::string id = norm + lr + "s" + std::to_string(s);
        const bool fast = norm == "batch" && lr == "0.1";
        const double final_val = norm == "none" ? 0.5 : fast ? 0.80 : 0.88;
        const double best_val = norm == "none" ? 0.5 : fast ? 0.90 : 0.88;
        rows.push_back({id, norm, std::to_string(s), lr, "ok", "", "0.7", fmt::format("{}", final_val),
                        fmt::format("{}", best_val), "100"});
        for (int step : {0, 40, 80, 100}) {
          double val = 0.1, test = 0.1, loss = 2.3;
          if (norm == "none" && step > 0) val = 0.5, test = 0.50 + 0.01 * s, loss = 1.0;
          if (fast && step == 40) val = 0.90, test = 0.86, loss = 0.40;
          if (fast && step > 40) val = 0.80, test = 0.70, loss = 0.9;
          if (norm == "batch" && !fast && step >= 80) val = 0.88, test = step == 80 ? 0.84 : 0.83, loss = 0.5;
          curve.push_back({id, "val", std::to_string(step), fmt::format("{}", val), "0"});
          curve.push_back({id, "test", std::to_string(step), fmt::format("{}", test), fmt::format("{}", loss)});
        }
      }
  const CsvTable t = table({"run_id", "norm", "seed", "lr", "status", "failure", "final_test_acc", "final_val_acc",
                            "best_val_acc", "steps_done"},
                           rows);
  const CsvTable curves = table({"run_id", "split", "step", "accuracy", "loss"}, curve);
  ClaimRule r = bn_vs_none(Metric::value, 0.1);
  r.select = Select::best_lr;
  r.select_on = SelectOn::val;
  r.column = "es_test_acc";
  auto res = evaluate_claim(r, t, &curves);
  REQUIRE(res.comparisons.size() == 1);
  // batch: 0.86 in every seed; none (first lr on its tie, flat val): 0.50 + 0.01 s, reached at step 40.
  CHECK(res.metric.at("batch").at(1) == doctest::Approx(0.86));
  CHECK(res.metric.at("none").at(2) == doctest::Approx(0.52));
  CHECK(res.comparisons[0].mean == doctest::Approx(0.35));
  r.column = "es_test_loss";
  r.direction = Direction::less;
  res = evaluate_claim(r, t, &curves);
  CHECK(res.metric.at("batch").at(0) == doctest::Approx(0.40));
  CHECK(res.comparisons[0].mean == doctest::Approx(0.60));  // none 1.0 minus batch 0.40
  // Without curves the column cannot be read: an error, not a default.
  CHECK_THROWS_AS(evaluate_claim(r, t), ConfigError);
}

namespace {
// landscape's shape: per model and seed s, two columns a and b; batch's a is none's / 2
// (ln 2 = 0.693 smaller in every seed), batch's b none's x (1 + 0.01 s) (ln 0 .. 0.03 larger).
CsvTable two_column_table() {
  std::vector<std::vector<std::string>> rows;
  int i = 0;
  for (const char* model : {"mlp", "cnn"})
    for (int s = 0; s < 4; ++s)
      for (const auto& [norm, fa, fb] : {std::tuple<const char*, double, double>{"none", 1.0, 1.0},
                                          {"batch", 0.5, 1 + 0.01 * s}})
        rows.push_back({fmt::format("r{}", i++), model, norm, std::to_string(s), "ok", "",
                        fmt::format("{}", 4.0 * (1 + 0.1 * s) * fa), fmt::format("{}", 2.0 * fb), "100"});
  return table({"run_id", "model", "norm", "seed", "status", "failure", "a", "b", "steps_done"}, rows);
}
}  // namespace

TEST_CASE("claims rule: a list of columns, one set of cells per column") {
  ClaimRule r = value_rule("a", "norm", {"model"}, {"batch"}, "none", 0.405);
  r.columns = {"a", "b"};
  r.relative = Relative::log;
  r.direction = Direction::less;
  r.positive_control.push_back({{"model", "cnn"}});
  const auto res = evaluate_claim(r, two_column_table());
  // Cells: column a for both models, then column b, each named with its column.
  REQUIRE(res.comparisons.size() == 4);
  CHECK(res.comparisons[0].treatment == "batch @ column=a, model=cnn");
  CHECK(res.comparisons[3].treatment == "batch @ column=b, model=mlp");
  CHECK(res.comparisons[3].combo.at("column") == "b");
  // a: d_s = ln(none / batch) = ln 2 in every seed (a zero-spread t interval: exactly ln 2),
  // above ln 1.5 = 0.405: supported. b: d_s = -ln(1 + 0.01 s), below the margin: not supported.
  CHECK(res.comparisons[0].mean == doctest::Approx(std::log(2.0)));
  CHECK(res.comparisons[0].verdict == Verdict::supported);
  CHECK(res.comparisons[2].diffs[3] == doctest::Approx(-std::log(1.03)));
  CHECK(res.comparisons[2].verdict == Verdict::not_supported);
  // The positive control (model = cnn) holds in every column: column b's cnn cell failed,
  // so every other cell is untestable, column a's mlp cell included.
  CHECK(res.comparisons[0].positive_control);
  CHECK(res.comparisons[2].positive_control);
  CHECK(res.comparisons[1].verdict == Verdict::untestable);
  CHECK(res.comparisons[1].why == Why::control_failed);
  // Each column's per-arm metric is kept under its own name.
  CHECK(res.metric.count("batch @ column=b, model=mlp") == 1);
  CHECK(res.metric.count("batch @ column=a, model=mlp") == 1);
  // Without the control, Holm runs over all four cells: both a cells supported, both b cells not.
  r.positive_control.clear();
  const auto free = evaluate_claim(r, two_column_table());
  CHECK(free.comparisons[1].verdict == Verdict::supported);
  CHECK(free.comparisons[3].verdict == Verdict::not_supported);
  CHECK(free.verdict == ClaimVerdict::depends);
  CHECK(verdict_text(free).find("supported for batch @ column=a, model=cnn; batch @ column=a, model=mlp; "
                                "not supported for batch @ column=b") != std::string::npos);
}

TEST_CASE("claims rule: reading a list of columns") {
  const ClaimRule two = read_rule("column = [\"landscape_beta\", \"landscape_grad_change\"]\n");
  CHECK(two.columns == std::vector<std::string>{"landscape_beta", "landscape_grad_change"});
  CHECK(two.column == "landscape_beta");
  // The list is a line of the rule's text; a single column (either form) keeps the old line.
  CHECK(rule_canonical_text(two, {}).find("column=landscape_beta|landscape_grad_change\n") != std::string::npos);
  const ClaimRule one = read_rule("column = [\"landscape_beta\"]\n");
  CHECK(one.columns.empty());
  CHECK(rule_canonical_text(one, {}) == rule_canonical_text(read_rule("column = \"landscape_beta\"\n"), {}));
  const std::pair<std::string, const char*> cases[] = {
      {"column = []\n", "rule.column: needs a column name, or a list of two or more"},
      {"column = [\"a\", \"\"]\n", "rule.column: needs a column name, or a list of two or more"},
      {"column = [\"a\", \"b\", \"a\"]\n", "rule.column: 'a' is listed twice"},
      {"column = [\"a\", 2]\n", "rule.column: 2 is an integer, not a string (in the list)"},
      {"column = 2\n", "rule.column: 2 is an integer, not a string or a list of strings"},
  };
  for (const auto& [text, want] : cases) {
    const std::string got = read_error(text);
    INFO(text, " -> ", got);
    CHECK(got.find(want) != std::string::npos);
  }
  // Metrics that read no column take no list.
  const std::string path = (std::filesystem::temp_directory_path() / "normlab-claim-columns.toml").string();
  std::ofstream(path) << "[claim]\nid = \"x\"\nstatement = \"s\"\n[rule]\nmetric = \"lr_range\"\ntext = \"t\"\n"
                         "control = \"none\"\ntreatment = \"batch\"\ndirection = \"greater\"\ncolumn = [\"a\", \"b\"]\n";
  try {
    read_claim_rule(path);
    FAIL("a list of columns with lr_range was read");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("a list of columns needs metric value or spread (metric lr_range reads no column)") !=
          std::string::npos);
  }
  std::filesystem::remove(path);
}

TEST_CASE("claims rule: an effect control in every each-combination, direction less, beside a cell control") {
  // Per model and seed s, test loss (lower is better): none's falls by 0.05 + 0.01 s with dropout
  // 0.5, batch's by 0.01 (model a) or rises by 0.04 (model b).
  std::vector<std::vector<std::string>> rows;
  int i = 0;
  for (const auto& [model, batch_drop] : {std::pair<const char*, double>{"a", -0.01}, {"b", 0.04}})
    for (int s = 0; s < 4; ++s)
      for (const auto& [norm, drop] : {std::pair<std::string, double>{"none", -(0.05 + 0.01 * s)}, {"batch", batch_drop}})
        for (const auto& [dropout, loss] : {std::pair<const char*, double>{"0", 0.5}, {"0.5", 0.5 + drop}})
          rows.push_back({fmt::format("r{}", i++), model, norm, std::to_string(s), dropout, "ok", "",
                          fmt::format("{}", loss), "100"});
  const CsvTable t = table({"run_id", "model", "norm", "seed", "dropout", "status", "failure", "final_test_loss",
                            "steps_done"}, rows);
  ClaimRule r = value_rule("final_test_loss", "norm", {"model"}, {"none"}, "batch", 0.005);
  r.direction = Direction::less;
  r.contrast = "dropout";
  r.contrast_values = {"0.5", "0.0"};
  r.effect_controls.push_back({"none", 0.03});
  r.positive_control.push_back({{"model", "a"}});
  const auto res = evaluate_claim(r, t);
  // Per combination: the interaction cell, then the effect control, each named with its combination.
  REQUIRE(res.comparisons.size() == 4);
  CHECK(res.comparisons[0].treatment == "none @ model=a");
  CHECK(res.comparisons[1].treatment == "none (dropout 0.5 - 0.0) @ model=a");
  CHECK(res.comparisons[3].treatment == "none (dropout 0.5 - 0.0) @ model=b");
  // "less" negates the effect: d_s = -(m(0.5) - m(0)) of none = 0.05 + 0.01 s, in both models.
  for (int k : {1, 3}) {
    const auto& c = res.comparisons[std::size_t(k)];
    REQUIRE(c.diffs.size() == 4);
    CHECK(c.diffs[0] == doctest::Approx(0.05));
    CHECK(c.diffs[3] == doctest::Approx(0.08));
    CHECK(c.positive_control);
    CHECK(c.verdict == Verdict::supported);  // [0.0446, 0.0854] above 0.03
  }
  // The cell-form control marks model a's interaction cell; model b's is not a control.
  CHECK(res.comparisons[0].positive_control);
  CHECK_FALSE(res.comparisons[2].positive_control);
  // Interaction, negated for less: d_s = none's fall - batch's fall: a: 0.04 + 0.01 s; b: 0.09 + 0.01 s.
  CHECK(res.comparisons[0].diffs[0] == doctest::Approx(0.04));
  CHECK(res.comparisons[2].diffs[0] == doctest::Approx(0.09));
  CHECK(res.verdict == ClaimVerdict::supported);
  // When model b's effect control fails (none's loss rises there), every non-control cell is untestable.
  for (auto& row : rows)
    if (row[1] == "b" && row[2] == "none" && row[4] == "0.5") row[7] = "0.6";
  const auto failed = evaluate_claim(r, table({"run_id", "model", "norm", "seed", "dropout", "status", "failure",
                                               "final_test_loss", "steps_done"}, rows));
  CHECK(failed.comparisons[3].verdict == Verdict::not_supported);
  CHECK(failed.comparisons[2].verdict == Verdict::untestable);
  CHECK(failed.comparisons[2].why == Why::control_failed);
  CHECK(failed.comparisons[0].verdict == Verdict::supported);  // a control cell keeps its own verdict
}
