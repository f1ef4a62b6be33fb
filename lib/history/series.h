#pragma once
// Series over commits, read from the history, and what `history show` says of each:
//   speed  (case, machine): per commit the median of its repeats; change points
//          found on log(median), so a step's size is a ratio; sigma is the larger
//          of the series' successive-difference spread and a median's standard error
//          (1.2533 sd / sqrt(k)).
//   claim  (claim, cell): per commit the cell's mean; sigma is the median
//          standard error of the cell's intervals (half width / 1.96).
// A regression: a speed step slower by more than `threshold`; a claim step
// larger than the cell's rule tolerance; a claim cell whose decision changed.
// Each names the commit where the new segment (or the new decision) begins.
#include <string>
#include <vector>

#include "history/changepoint.h"
#include "history/record.h"

namespace normlab {

enum class SeriesKind { speed, claim };

struct SeriesPoint {
  std::string commit, date;
  double value = 0;
  std::vector<double> repeats;  // speed: the repeat times
  std::string decision;         // claim
  double half_width = 0;        // claim: half the interval's width (NaN when none)
};

struct Series {
  SeriesKind kind = SeriesKind::speed;
  std::string name;     // "CASE @ MACHINE" or "CLAIM | CELL"
  std::string machine;  // speed only
  double tolerance = 0; // claim: the rule's tolerance (NaN: none)
  std::vector<SeriesPoint> points;  // commit order
};

struct Step {
  std::string commit;  // first commit of the new segment
  double size = 0;     // speed: after/before - 1; claim: after - before
  double confidence = 0;
  bool regression = false;
};

struct SeriesSummary {
  double last = 0;
  std::vector<Step> steps;
  double trend = 0;  // since the last step, per commit: speed relative (Theil-Sen on logs), claim absolute
  std::vector<std::string> regressions;  // "commit C: ..." lines
};

// Selection: a speed series when case_pattern is empty or its case name
// contains it, a claim series when claim_id is empty or equal to its claim; with
// only one of them given, only that kind.
std::vector<Series> build_series(const std::vector<Record>& records, const std::string& case_pattern,
                                 const std::string& claim_id);

SeriesSummary summarize(const Series& s, double threshold, const ChangePointOptions& opt);

}  // namespace normlab
