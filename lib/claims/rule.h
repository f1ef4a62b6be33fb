#pragma once
// A claim and its pre-registered rule, as written in the [claim] and [rule]
// tables of experiments/claims/ID.toml:
//
//   [claim]
//   id = "lr-tolerance"
//   statement = "Batch norm lets the network train at higher learning rates without diverging."
//   source = "..."
//   measure = "training"          # or "step-time": the grid's configs are timed with the
//                                  #   benchmark harness (timings.csv), not trained
//   [rule]
//   file = "runs.csv"              # the table the metric reads: runs.csv, batchstats.csv
//                                  #   (joined to runs.csv by run_id), timings.csv
//   relative = false               # true: d = m_treatment / m_control - 1 instead of the difference;
//                                  #   "log": d = ln(m_treatment / m_control)
//   metric = "largest_stable_lr"   # or "lr_range", "value" (a runs.csv column), "spread",
//                                  # "steps_to_target" (curves.csv; target derived, see below),
//                                  # "activation_drift" (activations.csv, see below)
//   column = "final_test_acc"      # value/spread: the runs.csv column (also gap_acc, gap_loss:
//                                  #   a list of two or more: the rule is applied to each column
//                                  #   alone, and every cell's combination gains column=C, e.g.
//                                  #   "batch @ column=landscape_beta, model=mlp"; Holm and the
//                                  #   positive controls then run over all of them);
//                                  #   train-test gaps of runs that ended ok, not collapsed;
//                                  #   es_test_acc, es_test_loss: early stopping, test accuracy and
//                                  #   loss at the first evaluation (curves.csv) where the select-on
//                                  #   split's accuracy is the run's best; best-lr then selects by
//                                  #   best_<split>_acc, each run at its early-stopping point)
//   over = "init"                  # spread: the key whose values the spread is taken over
//   select = "best-lr"             # value: per norm and seed, the lr with the best final accuracy
//   select-on = "test"             # the split every selection reads: "test", or "val" (the
//                                  #   dataset's validation split, `val=F` in its spec): the
//                                  #   stability floor, the best lr, the near-best lr range, the
//                                  #   steps_to_target target and each group's fastest lr. The
//                                  #   reported metric is read on test either way.
//   where = { batch-size = 2 }     # only these rows (a list: any of these values)
//   by = "norm"                    # the key whose values are compared (default norm)
//   each = ["model", "optimizer"]  # compare separately within each combination of these keys
//   contrast = { batch-size = [2, 32] }  # one key, two values a, b: rows with neither value are
//                                  #   ignored; per group (value of `by` [@ each combination]) and
//                                  #   seed the metric is computed on the rows at a and on those at
//                                  #   b (selection, floors and lrs within each), and the group's
//                                  #   metric is m(a) - m(b); a seed without both is skipped. With
//                                  #   it d_s is a difference in differences. The key may not be
//                                  #   `by` or in `each`; steps_to_target derives its target over
//                                  #   every (group, value) pair.
//   contrast-relative = "log"      # with a contrast and metric "value": the group's metric is
//                                  #   ln(m(a) / m(b)) instead of m(a) - m(b) (a seed whose value on
//                                  #   either side is not positive and finite is left out)
//   treatment = ["batch"]          # values of `by` the claim is about
//   control = "none"               # the norm it is compared with
//   direction = "greater"          # treatment's metric should be greater (or "less")
//   margin = 0.4                   # the smallest difference that counts
//   equivalence = true             # also an equivalence test: an interval inside (-margin, margin)
//                                  #   is "not supported, equivalent" (no practical difference);
//                                  #   without it such a cell is "too small" (or "opposite")
//   floor = 0.5                    # lr metrics: a run must reach this accuracy (select-on split) to count
//   within = 0.02                  # lr_range: decades of lr within this accuracy of the best
//   fraction = 0.95                # steps_to_target: target = fraction x the lowest, over the
//                                  #   groups of one `each` combination, of the mean over seeds of
//                                  #   the best (select-on split) accuracy: one target per combination; a group's metric is its fastest lr's first
//                                  #   evaluation step at or above the target (unreached:
//                                  #   censored at the run's last step + 1)
//   activation_drift: for the last hidden pre-activation layer of a run, the
//     path length of its 15th, 50th and 85th percentiles over the evaluation
//     points, sum_t sum_q |p_q(t) - p_q(t-1)|, divided by 3 x the mean spread
//     p85 - p15 over those points: drift in units of the distribution's width
//   tolerance = 0.2                # baseline comparison: allowed move of the mean difference
//   edge-seeds = 0                 # lr-selecting metrics: a cell is decided only when at most this
//                                  #   many seeds per arm selected the grid's lowest or highest lr
//                                  #   (default 1, the rule before the key existed; 0: none may)
//   text = "..."                   # the rule in words, shown beside the verdict
//
// Per seed s the difference is d_s = m_treatment(s) - m_control(s), or with
// relative = true m_treatment(s) / m_control(s) - 1, or with relative = "log"
// ln(m_treatment(s) / m_control(s)) (each negated for "less": for steps_to_target,
// ln(steps_control / steps_treatment)).
//   positive-control = { model = "mlp" }  # the cells where the literature predicts the effect
//                                  #   (`each` keys and values; a list of tables for several)
//   positive-control = { effect = "none", margin = 0.03 }
//                                  # or: the contrast's own effect on one arm (a value of `by`),
//                                  #   in each `each` combination: d_s = m(a) - m(b) of that arm
//                                  #   (negated for "less"), supported above this margin. For an
//                                  #   interaction (dropout helps less with BN), the main effect
//                                  #   the interaction is about (dropout helps without a norm).
//                                  #   Needs `contrast` and relative = false. Both forms may be
//                                  #   given in one list.
//
// A cell is one treatment within one combination of the `each` keys; its
// differences (with censoring bounds) give n, a mean and a 95% interval whose
// method fits the metric's kind, never narrower than its resolution, decided
// against the margin (claims/paired_interval.h): supported, not supported
// (equivalent by TOST at 90% for equivalence rules; opposite; too small) or
// inconclusive. Then, in order:
//   untestable      an arm's best or fastest lr at the grid's edge in more seeds than
//                   edge-seeds allows (1 when absent; 0: in any seed)
//   Holm            over the claim's other cells at 5%: a decision that does not survive
//                   is inconclusive (the cell's own decision is kept as `unadjusted`)
//   untestable      every non-control cell, when a positive control is not supported
// The claim's verdict never hides a cell: the class all its cells share, or
// "depends: supported for CELLS; not supported for CELLS; undecided for CELLS;
// untestable for CELLS".
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <functional>
#include <optional>

#include "claims/paired_interval.h"
#include "claims/sequential.h"
#include "results/csv_table.h"

namespace normlab {

// How a seed's treatment and control metrics give its difference.
enum class Relative {
  none,   // m_t - m_c
  ratio,  // m_t / m_c - 1      (relative = true)
  log,    // ln(m_t / m_c)      (relative = "log")
};

// The metric a rule reads (rule.metric); one function each in rule.cpp.
enum class Metric { largest_stable_lr, lr_range, value, spread, steps_to_target, activation_drift, count };
enum class Direction { greater, less };   // the treatment's metric should be greater (less)
enum class Select { mean, best_lr };      // value: the mean over the group's rows, or the best lr's row
enum class SelectOn { test, val };           // the split selection reads (rule.select-on)
// Whether a cell's best arm stopped improving within its budget (claims/plateau.h).
enum class Plateau { not_trained, reached, not_reached, unknown };

// The names used in claim files, claims.csv and claims.md.
const char* metric_name(Metric m);
const char* direction_name(Direction d);
const char* split_name(SelectOn s);

// A change to a registered rule, recorded in the claim file ([[amendment]], claims/registration.h).
struct Amendment {
  std::string date, what, why, replaced;  // replaced: the verdict the change replaced
  std::string from_hash, to_hash;         // the rule hash before and after
};

struct ClaimRule {
  std::string id, statement, source, text;
  std::string measure = "training", file = "runs.csv";
  Relative relative = Relative::none;
  Metric metric = Metric::value;
  std::string column = "final_test_acc", over;
  std::vector<std::string> columns;  // column = [two or more]: one set of cells per column; else empty
  Select select = Select::mean;
  SelectOn select_on = SelectOn::test;
  std::map<std::string, std::vector<std::string>> where;
  std::string by = "norm";
  std::vector<std::string> each;
  std::string contrast;                         // the contrast key; empty: none
  std::array<std::string, 2> contrast_values;   // a, b: the group's metric is m(a) - m(b)
  bool contrast_log = false;                    // contrast-relative = "log": ln(m(a) / m(b)) instead
  std::vector<std::string> treatment;
  std::string control;
  Direction direction = Direction::greater;
  double margin = 0, floor = 0, within = 0.02, fraction = 0.95, tolerance = 0;
  bool equivalence = false;
  // A cell is decided only when at most this many seeds per arm selected their lr at the grid's
  // edge (edge-seeds; 1 when the key is absent, as before it existed). 0: an arm whose optimum
  // sits at the edge in any seed has not been compared.
  int edge_seeds = 1;
  // positive-control: the cells where the literature predicts the effect, each a table of
  // `each` keys and values (any treatment). If one is not supported, the other cells are
  // untestable (control failed): a setting that cannot show the effect says nothing of it.
  std::vector<std::map<std::string, std::string>> positive_control;
  // positive-control = { effect = ARM, margin = M }: the contrast's own effect on ARM must be
  // supported above M (in every `each` combination), a cell of its own named "ARM (contrast a - b)".
  struct EffectControl {
    std::string arm;
    double margin = 0;
  };
  std::vector<EffectControl> effect_controls;
  std::vector<Amendment> amendments;  // [[amendment]] entries, in file order (not part of the rule hash)
};

// Reads the [claim] and [rule] tables and the [[amendment]] entries. Throws ConfigError
// naming file:line and key (an unknown key, a wrong type, a value outside the allowed ones,
// a malformed date or hash); a key given with the wrong type is never read as its default.
ClaimRule read_claim_rule(const std::string& path);

// The kind of a rule's metric: lr metrics are grid-valued, steps_to_target counts
// steps, a value or spread of a `*_rate` column is a bounded rate, the rest continuous.
MetricKind metric_kind(const ClaimRule& rule);

// What of the test split the rule reads beside runs.csv's final metrics, for runs that
// evaluate test only at step 0 and the last point (eval-between = val): "" for nothing;
// else the column or metric that reads test at every evaluation point (es_test_acc,
// es_test_loss: test at the best validation point; best_test_acc: the best test point;
// steps_to_target: test curves; select-on test: the plateau reads the test curve).
std::string reads_test_curves(const ClaimRule& rule);

struct Comparison {                // one cell
  std::string treatment;           // the treatment value [" @ key=value, ..." of the each combination]
  std::vector<double> diffs;       // per seed, signed so that > 0 favours the claim
  CellSample sample;               // diffs with their censoring bounds
  CellRule cell_rule;              // margin, method, resolution (units of d), equivalence
  double mean = 0, min = 0, max = 0;
  double ci_low = 0, ci_high = 0;  // 95% interval of the mean (never narrower than mean +- resolution)
  double tost_low = 0, tost_high = 0;  // 90% interval (TOST)
  Verdict verdict = Verdict::inconclusive;  // after Holm's correction over the claim's cells
  Why why = Why::none;             // not supported: equivalent | opposite | too small
  Verdict unadjusted = Verdict::inconclusive;  // the cell's own decision, before the correction
  Why unadjusted_why = Why::none;
  double level = 1;                // decision_level: the cell's scaled one-sided level, Holm's input
  bool positive_control = false;   // one of the rule's positive-control cells
  int edge_treatment = 0, edge_control = 0;  // seeds whose selected lr sits at the grid's edge, per arm
  int seeds_needed = 0;            // inconclusive: seeds that would likely decide it (-1: none)
  double target = std::nan("");    // steps_to_target: this cell's combination's target accuracy
  std::string arm;                 // the treatment value
  std::map<std::string, std::string> combo;  // the `each` keys' values of its combination
  int look = -1;                   // sequential: the look its seeds are at (-1: a fixed design)
  // The best arm's plateau (claims/plateau.h): its state, its seeds that plateaued of those
  // it has, and the median of their gains over the last 20% of steps.
  Plateau plateau = Plateau::not_trained;
  std::string plateau_arm;
  int plateau_seeds = 0, plateau_n = 0;
  double plateau_gain = std::nan("");
};

// The claim's verdict: every cell in one class (supported, not supported, inconclusive,
// untestable), or "depends" listing each class's cells.
enum class ClaimVerdict { supported, not_supported, inconclusive, untestable, depends };

struct ClaimResult {
  ClaimVerdict verdict = ClaimVerdict::inconclusive;
  std::array<std::vector<std::string>, 4> cells;  // per Verdict (its int value): the cells, in cell order
  std::string note;  // the contrast; the derived target
  double target = std::nan("");  // steps_to_target: the derived target accuracy
  std::vector<Comparison> comparisons;
  // value of `by` [@ each combination] -> seed -> metric (with a contrast, m(a) - m(b))
  std::map<std::string, std::map<long, double>> metric;
};

// The claim's verdict as written in claims.csv, claims.md and the log: "supported",
// "not supported", "inconclusive", "untestable" or "depends: supported for CELLS; not
// supported for CELLS; undecided for CELLS; untestable for CELLS" (the classes that have cells).
std::string verdict_text(const ClaimResult& r);

// rule.file's rows with the runs.csv columns they lack, matched by run_id.
// Throws ConfigError for a run_id runs.csv does not have.
CsvTable join_runs(const CsvTable& file, const CsvTable& runs);

// Applies the rule to `table`: runs.csv, or the table rule.file names (joined
// with runs.csv by the caller). Also reads curves.csv for steps_to_target and
// activations.csv for activation_drift.
// With `seq`, each cell is read at the levels of the look its seeds are at (claims/sequential.h).
ClaimResult evaluate_claim(const ClaimRule& rule, const CsvTable& table, const CsvTable* curves = nullptr,
                           const CsvTable* activations = nullptr, const SequentialDesign* seq = nullptr);

// Whether a run feeds the cell: it passes `where`, has a contrast value (if any), its `by`
// value is the cell's treatment or the control, and its `each` values are the cell's.
// value(key): the run's value of a key; nullopt for a key the run does not have (a column
// of a per-run table such as batchstats.csv's layer), which does not exclude it.
bool run_feeds_cell(const ClaimRule& rule, const Comparison& cell,
                    const std::function<std::optional<std::string>(const std::string&)>& value);

// Whether the rule reads a run at all: it passes `where` and has a contrast value (if any);
// value as above (a key the run does not have passes).
bool run_selected(const ClaimRule& rule, const std::function<std::optional<std::string>(const std::string&)>& value);

// Whether a run's value of a key is a rule's value: as numbers when both parse (2 == 2.0), else as text.
bool same_value(const std::string& have, const std::string& want);

}  // namespace normlab
