#pragma once
// Whether a cell's best arm had stopped improving when its training budget ran out
// (a verdict read before the plateau compares arms that were still learning).
//
// A run plateaued when its best accuracy on the rule's selection split (select-on:
// val or test) gained less than kPlateauGain over the last kPlateauLast of its steps:
//   gain = max over evaluations s <= T of acc(s)  -  max over evaluations 0 < s <= (1 - kPlateauLast) T of acc(s)
// with T its last evaluated step. A run with no evaluation in (0, (1 - kPlateauLast) T] (evaluated
// only at the end) is unknown; a run that did not end ok (diverged, failed, collapsed) has not
// plateaued.
//
// Per cell: for each arm (the cell's treatment and the rule's control) and seed, the run
// with the best final selection-split accuracy among the runs that feed the cell, one per
// contrast side. The best arm has the higher mean of those accuracies over its seeds (and
// sides). A seed of the best arm plateaued when its run on every contrast side did; the cell's
// plateau is reached when more than half of the best arm's seeds plateaued, unknown when any
// seed is unknown, and not reached otherwise.
#include <string>

#include "claims/rule.h"
#include "results/csv_table.h"

namespace normlab {

inline constexpr double kPlateauGain = 0.005;  // half a point of accuracy
inline constexpr double kPlateauLast = 0.2;    // the last 20% of the steps

// One run's plateau gain as defined above; NaN when unknown. curve: (step, accuracy) in step order.
double plateau_gain(const std::vector<std::pair<long, double>>& curve);

// Fills every comparison's plateau fields (rule.h) from the rule's table (runs.csv, or rule.file
// joined to it: join_runs) and curves.csv.
// A claim measured by timing (measure = "step-time") trains nothing: its cells stay not_trained.
void assess_plateaus(const ClaimRule& rule, const CsvTable& runs, const CsvTable& curves, ClaimResult& res);

// The plateau as written in claims.csv: reached, not reached, unknown, n/a.
const char* plateau_name(Plateau p);

// The cell's plateau for claims.md, e.g. "reached (batch: 8/8 seeds)" or
// "not reached (none: 2/8 seeds; median gain +0.012)".
std::string plateau_text(const Comparison& c);

}  // namespace normlab
