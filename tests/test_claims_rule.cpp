// Claim rules on hand-made tables whose verdicts follow from the definitions
// in claims/rule.h: relative differences, where-lists, and tables joined to
// runs.csv by run_id.
#include <doctest/doctest.h>

#include "claims/rule.h"
#include "core/errors.h"

using namespace normlab;

namespace {
CsvTable table(std::vector<std::string> header, std::vector<std::vector<std::string>> rows) {
  CsvTable t;
  t.path = "test.csv";
  t.header = std::move(header);
  t.rows = std::move(rows);
  return t;
}

// A "value" rule comparing `treatment` with `control` in `column`, per `each` combination.
ClaimRule value_rule(std::string column, std::string by, std::vector<std::string> each,
                     std::vector<std::string> treatment, std::string control, double margin) {
  ClaimRule r;
  r.metric = "value";
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
  r.relative = true;
  auto res = evaluate_claim(r, t);
  REQUIRE(res.comparisons.size() == 1);
  const auto& b = res.comparisons[0];
  CHECK(b.diffs[0] == doctest::Approx(0.1));
  CHECK(b.diffs[1] == doctest::Approx(0.3));
  // d = .1 .3 .2 .2: mean .2, sd .0816, t(.975, 3) = 3.1824 -> [.0701, .3299]
  CHECK(b.mean == doctest::Approx(0.2));
  CHECK(b.ci_low == doctest::Approx(0.2 - 3.182446 * 0.0816497 / 2).epsilon(1e-5));
  CHECK(b.verdict == "supported");
  CHECK(res.verdict == "supported");
  r.treatment = {"batch", "layer"};
  res = evaluate_claim(r, t);
  CHECK(res.comparisons[1].diffs[0] == doctest::Approx(0.01));
  CHECK(res.comparisons[1].verdict == "not supported");  // the interval lies below the margin, above -0.02
  CHECK(res.comparisons[1].why == "too small");
  CHECK(res.verdict == "depends: supported for batch @ model=mlp; not supported for layer @ model=mlp");
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
  CHECK(res.verdict == "supported");
  r.where.clear();  // batch 1000: batch statistics win, so the claim as worded fails there
  res = evaluate_claim(r, t);
  REQUIRE(res.comparisons.size() == 3);  // cells in the order of their names: 1, 1000, 4
  CHECK(res.comparisons[1].treatment == "running @ eval-batch=1000");
  CHECK(res.comparisons[1].verdict == "not supported");
  CHECK(res.comparisons[1].why == "opposite");
  CHECK(res.verdict == "depends: supported for running @ eval-batch=1; running @ eval-batch=4; "
                      "not supported for running @ eval-batch=1000");
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
  CHECK(res.verdict == "inconclusive");  // two seeds that disagree: a wide interval
  CHECK(res.comparisons[0].seeds_needed > 2);
  const CsvTable orphan = table({"run_id", "var_err"}, {{"r9", "1"}});
  CHECK_THROWS_AS(join_runs(orphan, runs), ConfigError);
}
