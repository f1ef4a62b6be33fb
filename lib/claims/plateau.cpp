// A cell's plateau (definitions in plateau.h):
//   gain(run) = max_{s <= T} acc(s) - max_{0 < s <= (1 - 0.2) T} acc(s)   plateaued: gain < 0.005
// read on the rule's selection split, for the best run per (arm, seed, contrast side), and
// decided by the majority of the best arm's seeds.
#include "claims/plateau.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

namespace normlab {

double plateau_gain(const std::vector<std::pair<long, double>>& curve) {
  if (curve.empty()) return std::nan("");
  long last = 0;
  for (const auto& [step, acc] : curve) last = std::max(last, step);
  const double cut = (1.0 - kPlateauLast) * double(last);
  double before = -INFINITY, overall = -INFINITY;
  for (const auto& [step, acc] : curve) {
    overall = std::max(overall, acc);
    if (step > 0 && double(step) <= cut) before = std::max(before, acc);
  }
  return std::isfinite(before) ? overall - before : std::nan("");
}

const char* plateau_name(Plateau p) {
  switch (p) {
    case Plateau::reached: return "reached";
    case Plateau::not_reached: return "not reached";
    case Plateau::unknown: return "unknown";
    case Plateau::not_trained: break;
  }
  return "n/a";
}

std::string plateau_text(const Comparison& c) {
  if (c.plateau == Plateau::not_trained) return "n/a (timed, not trained)";
  if (c.plateau == Plateau::unknown)
    return c.plateau_arm.empty() ? "unknown (no runs)"
                                 : fmt::format("unknown ({}: evaluated only at the end)", c.plateau_arm);
  std::string s = fmt::format("{} ({}: {}/{} seeds", plateau_name(c.plateau), c.plateau_arm, c.plateau_seeds,
                              c.plateau_n);
  if (std::isfinite(c.plateau_gain)) s += fmt::format("; median gain {:+.3f}", c.plateau_gain);
  return s + ")";
}

namespace {

using Curves = std::map<std::string, std::vector<std::pair<long, double>>>;  // run_id -> (step, acc)

// The best run of one (arm, seed, contrast side): its final selection accuracy and run_id.
struct Best {
  double acc = -INFINITY;
  std::size_t row = 0;
};
using ArmRuns = std::map<long, std::map<int, Best>>;  // seed -> side -> best run

Curves split_curves(const CsvTable& curves, const std::string& split) {
  Curves out;
  if (curves.header.empty()) return out;
  for (std::size_t i = 0; i < curves.rows.size(); ++i)
    if (curves.at(i, "split") == split)
      out[curves.at(i, "run_id")].push_back({curves.integer(i, "step"), curves.num(i, "accuracy")});
  for (auto& [id, c] : out) std::stable_sort(c.begin(), c.end());
  return out;
}

// collect: per arm of the cell, seed and contrast side, the run with the best final selection accuracy.
std::map<std::string, ArmRuns> collect(const ClaimRule& rule, const CsvTable& runs, const Comparison& cell,
                                       const std::string& acc_col) {
  std::map<std::string, ArmRuns> arms;
  for (std::size_t i = 0; i < runs.rows.size(); ++i) {
    const auto value = [&](const std::string& key) -> std::optional<std::string> {
      if (std::find(runs.header.begin(), runs.header.end(), key) == runs.header.end()) return std::nullopt;
      return runs.at(i, key);
    };
    if (!run_feeds_cell(rule, cell, value)) continue;
    const std::string& arm = runs.at(i, rule.by);
    const int side = rule.contrast.empty() || same_value(runs.at(i, rule.contrast), rule.contrast_values[0]) ? 0 : 1;
    double acc = runs.num(i, acc_col);
    if (std::isnan(acc)) acc = -1;  // a run without the accuracy still counts, below every real one
    Best& b = arms[arm][runs.integer(i, "seed")][side];
    if (acc > b.acc) b = {acc, i};
  }
  return arms;
}

// The arm whose seeds' best runs have the higher mean accuracy (the treatment on a tie).
std::string best_arm(const std::map<std::string, ArmRuns>& arms, const std::string& treatment) {
  const auto mean = [](const ArmRuns& seeds) {
    double sum = 0;
    long n = 0;
    for (const auto& [seed, sides] : seeds)
      for (const auto& [side, b] : sides) sum += b.acc, ++n;
    return n > 0 ? sum / double(n) : -INFINITY;
  };
  const auto tr = arms.find(treatment);
  std::string best = tr == arms.end() ? "" : treatment;
  double best_mean = tr == arms.end() ? -INFINITY : mean(tr->second);
  for (const auto& [name, seeds] : arms)
    if (const double m = mean(seeds); name != treatment && m > best_mean) best_mean = m, best = name;
  return best;
}

// judge: the best arm's seeds, each plateaued when its run on every side did.
void judge(const ArmRuns& seeds, const CsvTable& runs, const Curves& curves, Comparison& c) {
  std::vector<double> gains;
  bool unknown = false;
  for (const auto& [seed, sides] : seeds) {
    bool all = true;
    for (const auto& [side, b] : sides) {
      const bool ok = runs.at(b.row, "status") == "ok" && runs.at(b.row, "failure").empty();
      const auto it = curves.find(runs.at(b.row, "run_id"));
      const double g = it == curves.end() ? std::nan("") : plateau_gain(it->second);
      if (std::isnan(g)) unknown = unknown || ok;
      else gains.push_back(g);
      all = all && ok && !std::isnan(g) && g < kPlateauGain;
    }
    c.plateau_seeds += all;
    ++c.plateau_n;
  }
  if (!gains.empty()) {
    std::nth_element(gains.begin(), gains.begin() + long(gains.size() / 2), gains.end());
    c.plateau_gain = gains[gains.size() / 2];
  }
  c.plateau = unknown ? Plateau::unknown
              : 2 * c.plateau_seeds > c.plateau_n ? Plateau::reached
                                                  : Plateau::not_reached;
}

}  // namespace

void assess_plateaus(const ClaimRule& rule, const CsvTable& runs, const CsvTable& curves, ClaimResult& res) {
  if (rule.measure == "step-time") return;
  const std::string split = split_name(rule.select_on);
  const Curves by_run = split_curves(curves, split);
  for (auto& c : res.comparisons) {
    const auto arms = collect(rule, runs, c, "final_" + split + "_acc");
    c.plateau_arm = best_arm(arms, c.arm);
    if (c.plateau_arm.empty()) {
      c.plateau = Plateau::unknown;
      continue;
    }
    judge(arms.at(c.plateau_arm), runs, by_run, c);
  }
}

}  // namespace normlab
