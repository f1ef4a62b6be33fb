// A second claims folder read for display beside this one (contract in beside.h).
// Format read: DIR/manifest.json {"kind": "claims", "identity": {"profile": P}},
// DIR/claims.csv (claims_csv's columns; cell "" is a claim's own row) and
// DIR/<id>/runs.csv's dataset column.
#include "claims/beside.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/read_file.h"
#include "results/csv_table.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {

std::string read_profile(const std::string& dir) {
  const std::string path = dir + "/manifest.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw ConfigError(fmt::format("--beside: {} is missing (give a folder that `normlab claims` wrote)", path));
  const auto m = nlohmann::json::parse(read_file_capped(path), nullptr, false);
  if (m.is_discarded() || !m.is_object() || m.value("kind", "") != "claims" || !m.contains("identity") ||
      !m["identity"].is_object() || !m["identity"].contains("profile") || !m["identity"]["profile"].is_string())
    throw ConfigError(fmt::format("--beside: {} is not a claims store's manifest (expected kind \"claims\" and "
                                  "identity.profile)", path));
  return m["identity"]["profile"].get<std::string>();
}

std::vector<std::string> read_datasets(const std::string& runs_csv) {
  std::vector<std::string> out;
  if (!fs::exists(runs_csv)) return out;  // a timed claim has no runs.csv
  const CsvTable t = read_csv(runs_csv);
  if (std::find(t.header.begin(), t.header.end(), "dataset") == t.header.end()) return out;
  for (std::size_t i = 0; i < t.rows.size(); ++i)
    if (std::find(out.begin(), out.end(), t.at(i, "dataset")) == out.end()) out.push_back(t.at(i, "dataset"));
  return out;
}

}  // namespace

const BesideCell* Beside::find(const std::string& id, const std::string& cell) const {
  const auto it = cells.find({id, cell});
  return it == cells.end() ? nullptr : &it->second;
}

bool parse_verdict(const std::string& s, Verdict* v) {
  for (Verdict x : {Verdict::supported, Verdict::not_supported, Verdict::inconclusive, Verdict::untestable})
    if (s == verdict_name(x)) {
      *v = x;
      return true;
    }
  return false;
}

Agreement agreement(Verdict here, Verdict there) {
  const auto decided = [](Verdict v) { return v == Verdict::supported || v == Verdict::not_supported; };
  if (!decided(here) || !decided(there)) return Agreement::not_both_decided;
  return here == there ? Agreement::agree : Agreement::disagree;
}

Beside read_beside(const std::string& dir) {
  Beside b;
  b.dir = dir;
  b.profile = read_profile(dir);
  const std::string path = dir + "/claims.csv";
  if (!fs::exists(path)) throw ConfigError(fmt::format("--beside: {} is missing", path));
  const CsvTable t = read_csv(path);
  for (const char* c : {"id", "cell", "n", "mean", "verdict"})
    if (std::find(t.header.begin(), t.header.end(), c) == t.header.end())
      throw ConfigError(fmt::format("--beside: {} has no column '{}' (is it a claims.csv?)", path, c));
  for (std::size_t j = 0; j < t.rows.size(); ++j) {
    const std::string id = t.at(j, "id"), cell = t.at(j, "cell");
    if (cell.empty()) {
      if (!b.claim_verdict.emplace(id, t.at(j, "verdict")).second)
        throw ConfigError(fmt::format("--beside: {}: data row {} repeats claim {}", path, j + 1, id));
      b.datasets[id] = read_datasets(dir + "/" + id + "/runs.csv");
      continue;
    }
    BesideCell c;
    if (!parse_verdict(t.at(j, "verdict"), &c.verdict))
      throw ConfigError(fmt::format("--beside: {}: data row {} (claim {} cell '{}'): verdict '{}' (allowed: "
                                    "supported, not supported, inconclusive, untestable)",
                                    path, j + 1, id, cell, t.at(j, "verdict")));
    c.n = std::lround(t.num(j, "n"));
    c.mean = t.num(j, "mean");
    if (!b.cells.emplace(std::make_pair(id, cell), c).second)
      throw ConfigError(fmt::format("--beside: {}: data row {} repeats claim {} cell '{}'", path, j + 1, id, cell));
  }
  return b;
}

}  // namespace normlab
