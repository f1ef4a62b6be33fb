// Results CSV checks (contract in csv_check.h): unique row keys, complete
// per-run files, finite metrics of completed runs.
#include "results/csv_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

namespace normlab {

namespace {

std::string stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

bool has_col(const CsvTable& t, const std::string& name) {
  return std::find(t.header.begin(), t.header.end(), name) != t.header.end();
}

// Text columns: never numbers.
bool text_column(const std::string& file, const std::string& col) {
  static const std::set<std::string> text = {"run_id", "split", "kind", "layer", "status", "failure", "message"};
  (void)file;
  return text.count(col) > 0;
}

// The metric columns of a file: in runs.csv those between failure and message
// (the config columns before them are text); elsewhere every non-text column.
std::vector<int> metric_columns(const CsvTable& t) {
  std::vector<int> cols;
  const bool runs = stem(t.path) == "runs";
  bool after = !runs;
  for (std::size_t i = 0; i < t.header.size(); ++i) {
    if (runs && t.header[i] == "failure") {
      after = true;
      continue;
    }
    if (after && !text_column(t.path, t.header[i])) cols.push_back(int(i));
  }
  return cols;
}

bool nonfinite(const std::string& v) {
  if (v.empty()) return false;
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  return end != v.c_str() && *end == '\0' && !std::isfinite(x);
}

}  // namespace

std::vector<std::string> csv_key_columns(const std::string& path) {
  const std::string s = stem(path);
  if (s == "runs" || s == "timings") return {"run_id"};
  if (s == "curves") return {"run_id", "step", "split"};
  if (s == "activations") return {"run_id", "step", "layer", "kind"};
  if (s == "batchstats") return {"run_id", "step", "layer", "batch"};
  return {};
}

std::vector<std::string> duplicate_rows(const CsvTable& t) {
  std::vector<std::string> out;
  const auto keys = csv_key_columns(t.path);
  if (keys.empty() || !std::all_of(keys.begin(), keys.end(), [&](const auto& k) { return has_col(t, k); }))
    return out;
  std::map<std::vector<std::string>, std::size_t> first;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    std::vector<std::string> key;
    for (const auto& k : keys) key.push_back(t.at(i, k));
    const auto [it, fresh] = first.emplace(key, i);
    if (!fresh)
      out.push_back(fmt::format("{}: data row {} repeats data row {} (run_id {}{}): a duplicated row", t.path, i + 1,
                                it->second + 1, key[0],
                                keys.size() > 1 ? fmt::format(", {} {}", fmt::join(keys.begin() + 1, keys.end(), "/"),
                                                              fmt::join(key.begin() + 1, key.end(), "/"))
                                                : ""));
  }
  return out;
}

std::vector<std::string> missing_rows(const CsvTable& runs, const CsvTable& other) {
  std::vector<std::string> out;
  if (!has_col(other, "run_id")) return out;
  const std::string s = stem(other.path);
  std::set<std::string> have, known;
  for (std::size_t i = 0; i < other.rows.size(); ++i) have.insert(other.at(i, "run_id"));
  for (std::size_t i = 0; i < runs.rows.size(); ++i) {
    const std::string id = runs.at(i, "run_id");
    known.insert(id);
    const std::string status = runs.at(i, "status");
    if (status != "ok" && status != "diverged") continue;
    bool expected = s == "curves";
    if (s == "activations") expected = !has_col(runs, "model") || runs.at(i, "model") != "rnn";
    if (s == "batchstats") expected = has_col(runs, "stat-batches") && !runs.at(i, "stat-batches").empty();
    if (expected && !have.count(id))
      out.push_back(fmt::format("{}: no rows for run {} ({} data row {}, status {}): the file is incomplete",
                                other.path, id, runs.path, i + 1, status));
  }
  for (std::size_t i = 0; i < other.rows.size(); ++i)
    if (!known.count(other.at(i, "run_id")))
      out.push_back(fmt::format("{}: data row {}: run {} is not in {}", other.path, i + 1, other.at(i, "run_id"),
                                runs.path));
  return out;
}

void nonfinite_metrics(const CsvTable& t, const CsvTable& runs, std::vector<std::string>* problems,
                       std::vector<std::string>* notes) {
  if (!has_col(t, "run_id") || !has_col(runs, "status")) return;
  std::map<std::string, std::string> status;
  for (std::size_t i = 0; i < runs.rows.size(); ++i) status[runs.at(i, "run_id")] = runs.at(i, "status");
  const auto cols = metric_columns(t);
  for (std::size_t i = 0; i < t.rows.size(); ++i)
    for (int c : cols) {
      if (!nonfinite(t.rows[i][c])) continue;
      const std::string& id = t.rows[i][t.col("run_id")];
      const std::string st = status.count(id) ? status[id] : "unknown";
      const std::string msg = fmt::format("{}: data row {}, column '{}': {} in run {} (status {})", t.path, i + 1,
                                          t.header[c], t.rows[i][c], id, st);
      if (st == "ok" || st == "unknown")
        problems->push_back(msg + ": a completed run's metric is not a number");
      else if (notes)
        notes->push_back(msg);
    }
}

std::vector<std::string> check_results_csvs(const std::string& dir, const std::vector<std::string>& files,
                                            std::vector<std::string>* notes) {
  std::vector<std::string> problems;
  const CsvTable runs = read_csv(dir + "/runs.csv");
  for (auto& p : duplicate_rows(runs)) problems.push_back(std::move(p));
  nonfinite_metrics(runs, runs, &problems, notes);
  for (const auto& f : files) {
    if (f == "runs.csv") continue;
    if (!std::filesystem::exists(dir + "/" + f)) {
      problems.push_back(fmt::format("{}/{}: missing", dir, f));
      continue;
    }
    const CsvTable t = read_csv(dir + "/" + f);
    for (auto& p : duplicate_rows(t)) problems.push_back(std::move(p));
    for (auto& p : missing_rows(runs, t)) problems.push_back(std::move(p));
    nonfinite_metrics(t, runs, &problems, notes);
  }
  return problems;
}

}  // namespace normlab
