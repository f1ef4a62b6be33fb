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
  // Seed = repeat. batch is 10% and 30% slower than none; layer 1% (below the 2% margin) in one repeat.
  const CsvTable t = table({"run_id", "norm", "model", "seed", "median_s"},
                           {{"a", "none", "mlp", "0", "1.0"},  {"b", "batch", "mlp", "0", "1.1"},
                            {"c", "layer", "mlp", "0", "1.01"}, {"d", "none", "mlp", "1", "2.0"},
                            {"e", "batch", "mlp", "1", "2.6"},  {"f", "layer", "mlp", "1", "2.2"}});
  ClaimRule r = value_rule("median_s", "norm", {"model"}, {"batch"}, "none", 0.02);
  r.relative = true;
  auto res = evaluate_claim(r, t);
  REQUIRE(res.comparisons.size() == 1);
  CHECK(res.comparisons[0].diffs[0] == doctest::Approx(0.1));
  CHECK(res.comparisons[0].diffs[1] == doctest::Approx(0.3));
  CHECK(res.verdict == "supported");
  r.treatment = {"batch", "layer"};
  res = evaluate_claim(r, t);
  CHECK(res.comparisons[1].diffs[0] == doctest::Approx(0.01));
  CHECK(res.comparisons[1].verdict == "inconclusive");  // 0.01 <= margin < 0.1
  CHECK(res.verdict == "inconclusive");
}

TEST_CASE("claims rule: where-lists keep rows with any listed value, compared per each-combination") {
  const CsvTable t = table({"run_id", "eval-stats", "eval-batch", "seed", "final_test_acc"},
                           {{"1", "running", "1", "0", "0.9"},  {"2", "batch", "1", "0", "0.1"},
                            {"3", "running", "4", "0", "0.9"},  {"4", "batch", "4", "0", "0.8"},
                            {"5", "running", "1000", "0", "0.9"}, {"6", "batch", "1000", "0", "0.95"}});
  ClaimRule r = value_rule("final_test_acc", "eval-stats", {"eval-batch"}, {"running"}, "batch", 0.05);
  r.where = {{"eval-batch", {"1", "4.0"}}};  // numeric match: "4" == "4.0"
  auto res = evaluate_claim(r, t);
  REQUIRE(res.comparisons.size() == 2);
  CHECK(res.comparisons[0].diffs[0] == doctest::Approx(0.8));
  CHECK(res.comparisons[1].diffs[0] == doctest::Approx(0.1));
  CHECK(res.verdict == "supported");
  r.where.clear();  // batch 1000: batch statistics win, so the claim as worded fails there
  CHECK(evaluate_claim(r, t).verdict == "not supported");
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
  CHECK(res.verdict == "inconclusive");
  const CsvTable orphan = table({"run_id", "var_err"}, {{"r9", "1"}});
  CHECK_THROWS_AS(join_runs(orphan, runs), ConfigError);
}
