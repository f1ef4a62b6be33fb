// A cell's plateau (claims/plateau.h) on hand-made runs and curves whose answers
// follow from the definition: gain = best accuracy overall minus best accuracy at
// evaluations in (0, 0.8 T], plateaued below 0.005; the best arm by mean final
// selection accuracy; reached when more than half of its seeds plateaued.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <cmath>

#include "claims/plateau.h"
#include "claims_test_util.h"

using namespace normlab;

namespace {
using normlab::test::table;

// A curve row on the val split (and a test row beside it that selection must not read).
void add_curve(CsvTable& c, const std::string& id, long step, double val_acc) {
  c.rows.push_back({id, std::to_string(step), "val", fmt::format("{}", val_acc)});
  c.rows.push_back({id, std::to_string(step), "test", "0.0"});
}

ClaimRule val_rule() {
  ClaimRule r;
  r.metric = Metric::value;
  r.select = Select::best_lr;
  r.select_on = SelectOn::val;
  r.treatment = {"batch"};
  r.control = "none";
  return r;
}
}  // namespace

TEST_CASE("claims plateau: one run's gain over the last 20% of its steps") {
  // T = 500: the cut is step 400 (included); step 0 never counts as "before".
  CHECK(plateau_gain({{0, 0.1}, {100, 0.80}, {400, 0.85}, {500, 0.852}}) == doctest::Approx(0.002));
  CHECK(plateau_gain({{0, 0.1}, {100, 0.80}, {400, 0.85}, {450, 0.87}, {500, 0.86}}) == doctest::Approx(0.02));
  // The best before the cut is later undercut: no gain (a noisy dip at the end is not progress).
  CHECK(plateau_gain({{0, 0.1}, {200, 0.90}, {500, 0.88}}) == doctest::Approx(0.0));
  // Only the end evaluated (and step 0): unknown, not "no gain".
  CHECK(std::isnan(plateau_gain({{0, 0.1}, {500, 0.9}})));
  CHECK(std::isnan(plateau_gain({})));
  // An evaluation just past the cut does not count as before it (401 > 0.8 * 500).
  CHECK(std::isnan(plateau_gain({{0, 0.1}, {401, 0.5}, {500, 0.9}})));
}

TEST_CASE("claims plateau: the best arm's seeds decide the cell") {
  CsvTable runs = table({"run_id", "norm", "lr", "seed", "status", "failure", "final_val_acc"}, {});
  CsvTable curves = table({"run_id", "step", "split", "accuracy"}, {});
  // batch (the better arm, mean final val 0.90) and none (0.80), 3 seeds, two lrs each.
  // The worse lr of each arm is still climbing; it must not be read.
  for (int s = 0; s < 3; ++s) {
    const std::string ss = std::to_string(s);
    runs.rows.push_back({"b" + ss, "batch", "0.1", ss, "ok", "", "0.90"});
    runs.rows.push_back({"bl" + ss, "batch", "0.01", ss, "ok", "", "0.70"});
    runs.rows.push_back({"n" + ss, "none", "0.1", ss, "ok", "", "0.80"});
    add_curve(curves, "bl" + ss, 0, 0.1), add_curve(curves, "bl" + ss, 400, 0.5), add_curve(curves, "bl" + ss, 500, 0.7);
    add_curve(curves, "n" + ss, 0, 0.1), add_curve(curves, "n" + ss, 400, 0.7), add_curve(curves, "n" + ss, 500, 0.8);
  }
  // batch: seeds 0 and 1 flat after step 400 (gains 0.001, 0.004); seed 2 gains 0.02.
  const double late[3] = {0.001, 0.004, 0.02};
  for (int s = 0; s < 3; ++s) {
    const std::string id = "b" + std::to_string(s);
    add_curve(curves, id, 0, 0.1), add_curve(curves, id, 200, 0.85), add_curve(curves, id, 400, 0.88);
    add_curve(curves, id, 500, 0.88 + late[s]);
  }
  const ClaimRule r = val_rule();
  ClaimResult res;
  res.comparisons.resize(1);
  res.comparisons[0].arm = "batch";
  assess_plateaus(r, runs, curves, res);
  const Comparison& c = res.comparisons[0];
  CHECK(c.plateau_arm == "batch");
  CHECK(c.plateau_n == 3);
  CHECK(c.plateau_seeds == 2);
  CHECK(c.plateau == Plateau::reached);  // 2 of 3: more than half
  CHECK(c.plateau_gain == doctest::Approx(0.004));  // the median gain
  CHECK(plateau_text(c) == "reached (batch: 2/3 seeds; median gain +0.004)");

  SUBCASE("a best run that did not end ok has not plateaued") {
    runs.rows[0][4] = "diverged";  // seed 0's best batch run (its val accuracy still the best)
    ClaimResult r2;
    r2.comparisons.resize(1);
    r2.comparisons[0].arm = "batch";
    assess_plateaus(r, runs, curves, r2);
    CHECK(r2.comparisons[0].plateau_seeds == 1);
    CHECK(r2.comparisons[0].plateau == Plateau::not_reached);  // 1 of 3
  }
  SUBCASE("the control arm when it is better") {
    for (auto& row : runs.rows)
      if (row[1] == "none") row[6] = "0.95";
    ClaimResult r2;
    r2.comparisons.resize(1);
    r2.comparisons[0].arm = "batch";
    assess_plateaus(r, runs, curves, r2);
    CHECK(r2.comparisons[0].plateau_arm == "none");
    CHECK(r2.comparisons[0].plateau_seeds == 0);  // none gains 0.1 in its last 20%
    CHECK(r2.comparisons[0].plateau == Plateau::not_reached);
  }
  SUBCASE("runs evaluated only at the end: unknown") {
    CsvTable ends = table({"run_id", "step", "split", "accuracy"}, {});
    for (const auto& row : runs.rows) add_curve(ends, row[0], 0, 0.1), add_curve(ends, row[0], 500, 0.9);
    ClaimResult r2;
    r2.comparisons.resize(1);
    r2.comparisons[0].arm = "batch";
    assess_plateaus(r, runs, ends, r2);
    CHECK(r2.comparisons[0].plateau == Plateau::unknown);
    CHECK(plateau_text(r2.comparisons[0]) == "unknown (batch: evaluated only at the end)");
  }
  SUBCASE("a timed claim trains nothing") {
    ClaimRule timed = r;
    timed.measure = "step-time";
    ClaimResult r2;
    r2.comparisons.resize(1);
    r2.comparisons[0].arm = "batch";
    assess_plateaus(timed, runs, curves, r2);
    CHECK(r2.comparisons[0].plateau == Plateau::not_trained);
    CHECK(std::string(plateau_name(r2.comparisons[0].plateau)) == "n/a");
  }
}

TEST_CASE("claims plateau: with a contrast, a seed plateaued only when both sides did") {
  CsvTable runs = table({"run_id", "norm", "batch-size", "seed", "status", "failure", "final_val_acc"}, {});
  CsvTable curves = table({"run_id", "step", "split", "accuracy"}, {});
  ClaimRule r = val_rule();
  r.contrast = "batch-size";
  r.contrast_values = {"2", "32"};
  for (int s = 0; s < 2; ++s) {
    const std::string ss = std::to_string(s);
    for (const char* bs : {"2", "32", "128"}) {  // 128: neither contrast value, never read
      const std::string id = std::string("b") + bs + "_" + ss;
      runs.rows.push_back({id, "batch", bs, ss, "ok", "", "0.9"});
      add_curve(curves, id, 0, 0.1), add_curve(curves, id, 400, 0.9);
      // batch 2 of seed 1 still climbs; batch 128 climbs in every seed.
      add_curve(curves, id, 500, (s == 1 && bs == std::string("2")) || bs == std::string("128") ? 0.95 : 0.9);
    }
    runs.rows.push_back({"n" + ss, "none", "32", ss, "ok", "", "0.5"});
  }
  ClaimResult res;
  res.comparisons.resize(1);
  res.comparisons[0].arm = "batch";
  assess_plateaus(r, runs, curves, res);
  CHECK(res.comparisons[0].plateau_arm == "batch");
  CHECK(res.comparisons[0].plateau_n == 2);
  CHECK(res.comparisons[0].plateau_seeds == 1);
  CHECK(res.comparisons[0].plateau == Plateau::not_reached);  // 1 of 2 is not more than half
}
