// normlab verify DIR: checks every invariant of a results store (sweep/store.h)
// or of a claims folder, and prints each violation with its file:
//   ids        each run_id is the hash of its config (manifest runs, CSV rows);
//   parts      each part's footer names its run, its checksum matches, and so
//              does ledger/parts.sha256 (sweep/sweep_dir.h);
//   no dups    no row key twice in a CSV (results/csv_check.h);
//   complete   every run of runs.csv has its rows in the other CSVs;
//   assembly   the CSVs are the concatenation of the trusted parts in grid order;
//   manifest   kind and identity agree with its runs; runs.csv holds manifest
//              runs in grid order (all of them once a whole, unsharded sweep finished);
//   checksums  each table has the SHA-256 the finished manifest records ("files",
//              sweep/store.h result_checksums), so an edited value is found
//              without parts/; a finished manifest must record them.
// Folders committed without parts/ and ledger/ (they are not kept in git) are
// checked on what they hold. Exit 0 clean, 1 on any violation, 2 on bad input.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cmd/subcommands.h"
#include "core/errors.h"
#include "core/read_file.h"
#include "results/csv_check.h"
#include "sweep/manifest.h"
#include "sweep/store.h"
#include "sweep/sweep_dir.h"

namespace normlab::cmd {

namespace {

namespace fs = std::filesystem;

using Violations = std::vector<std::string>;


void add(Violations* v, Violations more) {
  for (auto& m : more) v->push_back(std::move(m));
}

// run_id = hash of the row's identity columns, for every row.
void check_row_ids(const CsvTable& t, Violations* v) {
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    RunConfig cfg;
    try {
      for (std::size_t c = 0; c < t.header.size(); ++c)
        for (const auto& k : run_keys())
          if (k.identity && t.header[c] == k.name) cfg.set(k.name, t.rows[i][c]);
    } catch (const ConfigError& e) {
      v->push_back(fmt::format("{}: data row {}: its config cannot be read: {}", t.path, i + 1, e.what()));
      continue;
    }
    if (cfg.run_id() != t.at(i, "run_id"))
      v->push_back(fmt::format("{}: data row {}: run_id {} is not the hash of its config ({})", t.path, i + 1,
                               t.at(i, "run_id"), cfg.run_id()));
  }
}

// The manifest's own invariants: run ids, and the recorded identity.
void check_manifest(const std::string& file, const ManifestGrid& g, Violations* v) {
  std::set<std::string> ids;
  for (std::size_t i = 0; i < g.runs.size(); ++i) {
    const std::string id = g.json["runs"][i].value("run_id", "");
    if (id != g.runs[i].run_id())
      v->push_back(fmt::format("{}: runs[{}]: run_id {} is not the hash of its config ({})", file, i, id,
                               g.runs[i].run_id()));
    if (!ids.insert(id).second) v->push_back(fmt::format("{}: runs[{}]: run_id {} twice", file, i, id));
  }
  if (!g.json.contains("identity")) return;  // an older manifest: nothing recorded to compare
  const auto& ident = g.json["identity"];
  if (ident.value("experiment", "") != g.name)
    v->push_back(fmt::format("{}: identity.experiment '{}' is not experiment.name '{}'", file,
                             ident.value("experiment", ""), g.name));
  if (ident.value("fixed_hash", "") != fixed_hash(g.runs))
    v->push_back(fmt::format("{}: identity.fixed_hash {} does not match its runs' fixed keys ({})", file,
                             ident.value("fixed_hash", ""), fixed_hash(g.runs)));
}

// runs.csv (or timings.csv) holds manifest runs, in grid order, all of them
// when the sweep that wrote it finished whole.
void check_against_grid(const CsvTable& t, const ManifestGrid& g, Violations* v) {
  std::map<std::string, std::size_t> pos;
  for (std::size_t i = 0; i < g.runs.size(); ++i) pos[g.runs[i].run_id()] = i;
  std::size_t last = 0;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const std::string id = t.at(i, "run_id");
    const auto it = pos.find(id);
    if (it == pos.end()) {
      v->push_back(fmt::format("{}: data row {}: run {} is not in the manifest's grid", t.path, i + 1, id));
      continue;
    }
    if (seen.insert(id).second && it->second < last)
      v->push_back(fmt::format("{}: data row {}: run {} is out of grid order", t.path, i + 1, id));
    last = std::max(last, it->second);
  }
  bool sharded = false;
  for (const auto& s : g.json.value("shards", nlohmann::json::array()))
    sharded |= s.is_object() && s.value("shard", "0/1").substr(s.value("shard", "0/1").find('/') + 1) != "1";
  const bool whole = !g.json.value("finished", "").empty() && !sharded && !g.json.contains("merged_from");
  if (whole && seen.size() != g.runs.size())
    v->push_back(fmt::format("{}: holds {} of the manifest's {} runs, but the manifest says the sweep finished",
                             t.path, seen.size(), g.runs.size()));
}

// Every part in parts/ is trusted, and the CSVs are exactly their assembly.
void check_parts(const std::string& dir, const ManifestGrid& g, Violations* v) {
  if (!fs::is_directory(dir + "/parts")) return;
  const SweepDir sd(dir, PartChecks::full, PartNumerics::any);  // an older build's parts are intact, not damaged
  std::set<std::string> ids;
  for (const auto& e : fs::directory_iterator(dir + "/parts")) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) continue;  // an unfinished write: never read
    ids.insert(name.substr(0, name.find('.')));
  }
  // Every part of a run with a runs part (the others are unfinished: run again, never read).
  for (const auto& id : ids) {
    if (!fs::exists(sd.part(id, "runs"))) continue;
    for (const char* kind : SweepDir::part_kinds()) {
      std::string problem;
      if (!sd.read_part(id, kind, &problem)) v->push_back(fmt::format("{}: {}", sd.part(id, kind), problem));
    }
  }
  if (const std::string mixed = mixed_numerics(sd, {ids.begin(), ids.end()}); !mixed.empty()) v->push_back(mixed);
  int present = 0;
  for (const auto& [name, text] : sd.assembled(g.runs, &present)) {
    const std::string path = dir + "/" + name;
    if (!fs::exists(path))
      v->push_back(fmt::format("{}: missing (its parts are there; run the sweep again to assemble it)", path));
    else if (read_file_capped(path) != text)
      v->push_back(fmt::format("{}: is not the concatenation of its trusted parts in grid order (run the sweep "
                               "again to assemble it)", path));
  }
}

Violations verify_store(const std::string& dir) {
  Violations v;
  const std::string mfile = dir + "/manifest.json";
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(read_file_capped(mfile));
  } catch (const std::exception& e) {
    return {fmt::format("{}: cannot be read: {}", mfile, e.what())};
  }
  const std::string kind = m.value("kind", m.value("command", ""));
  const bool timings = fs::exists(dir + "/timings.csv") && !fs::exists(dir + "/runs.csv");
  const std::string table = dir + (timings ? "/timings.csv" : "/runs.csv");
  // A finished folder holding its whole grid records its tables' checksums; a shard's
  // part of a grid does not (its parts/ carry the checksums).
  bool whole = true;
  try {
    whole = kind == "train" || !m.contains("runs") || read_csv(table).rows.size() == m["runs"].size();
  } catch (const ConfigError&) {  // an unreadable table is reported below
  }
  add(&v, check_result_checksums(dir, m, m.value("finished", "") != "" && whole));
  // The manifest and the parts first: they do not depend on the CSVs being readable.
  if (kind != "train") {
    try {
      const ManifestGrid g = read_manifest_grid(mfile);
      check_manifest(mfile, g, &v);
      if (!timings) check_parts(dir, g, &v);
      const CsvTable runs = read_csv(table);
      check_against_grid(runs, g, &v);
    } catch (const ConfigError& e) {
      v.push_back(e.what());
    }
  }
  try {
    const CsvTable runs = read_csv(table);
    add(&v, duplicate_rows(runs));
    check_row_ids(runs, &v);
    if (kind == "train") {
      const std::string id = m.value("run_id", "");
      if (runs.rows.size() != 1 || runs.at(0, "run_id") != id)
        v.push_back(fmt::format("{}: a train folder's runs.csv holds one row, of run {} (manifest.json)", table, id));
      if (m.contains("identity") && m["identity"].value("run_id", "") != id)
        v.push_back(fmt::format("{}: identity.run_id is not run_id {}", mfile, id));
    }
    if (!timings) {
      // A train run writes batchstats.csv only when it has stat-batches; a sweep always does.
      bool stats = kind != "train" || fs::exists(dir + "/batchstats.csv");
      for (std::size_t i = 0; !stats && i < runs.rows.size(); ++i)
        stats = std::find(runs.header.begin(), runs.header.end(), "stat-batches") != runs.header.end() &&
                !runs.at(i, "stat-batches").empty();
      std::vector<std::string> files = {"curves.csv", "activations.csv"};
      if (stats) files.push_back("batchstats.csv");
      add(&v, check_results_csvs(dir, files, nullptr));
    }
  } catch (const ConfigError& e) {
    if (std::find(v.begin(), v.end(), std::string(e.what())) == v.end()) v.push_back(e.what());
  }
  return v;
}

Violations verify_claims(const std::string& dir) {
  Violations v;
  const std::string file = dir + "/claims.csv";
  if (fs::exists(dir + "/manifest.json")) {
    try {
      const nlohmann::json m = nlohmann::json::parse(read_file_capped(dir + "/manifest.json"));
      add(&v, check_summary_checksums(dir, m, true));
    } catch (const std::exception& e) {
      v.push_back(fmt::format("{}/manifest.json: cannot be read: {}", dir, e.what()));
    }
  }
  try {
    const CsvTable t = read_csv(file);
    std::set<std::pair<std::string, std::string>> seen;
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const std::string id = t.at(i, "id"), cell = t.at(i, "cell");
      if (!seen.insert({id, cell}).second)
        v.push_back(fmt::format("{}: data row {} repeats claim {} cell '{}'", file, i + 1, id, cell));
      if (cell.empty() && !fs::exists(dir + "/" + id + "/manifest.json"))
        v.push_back(fmt::format("{}: data row {}: claim {} has no folder {}/{} with a manifest.json", file, i + 1, id,
                                dir, id));
    }
  } catch (const ConfigError& e) {
    v.push_back(e.what());
  }
  std::vector<std::string> subs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && fs::exists(e.path() / "manifest.json")) subs.push_back(e.path().string());
  std::sort(subs.begin(), subs.end());
  for (const auto& s : subs) add(&v, verify_store(s));
  return v;
}

}  // namespace

std::vector<std::string> results_folder_violations(const std::string& who, const std::string& arg) {
  const std::string dir = store_path(arg);
  if (!fs::is_directory(dir)) throw ConfigError(fmt::format("{}: {} is not a directory", who, arg));
  const bool claims = fs::exists(dir + "/claims.csv");
  if (!claims && !fs::exists(dir + "/manifest.json"))
    throw ConfigError(fmt::format("{}: {} is not a results folder (no manifest.json or claims.csv)", who, arg));
  return claims ? verify_claims(dir) : verify_store(dir);
}

namespace {

void run_verify(const std::string& arg) {
  const Violations v = results_folder_violations("verify", arg);
  for (const auto& line : v) std::printf("%s\n", line.c_str());
  if (!v.empty()) throw std::runtime_error(fmt::format("verify: {} violation(s) in {}", v.size(), arg));
  spdlog::info("verify: {}: every invariant holds", arg);
}

}  // namespace

void setup_verify(CLI::App& app) {
  auto dir = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("verify", "Check every invariant of a results folder (exit 1 on a violation)");
  sub->add_option("dir", *dir, "results folder: a train, sweep, merge or claims output")->required();
  sub->callback([dir] { run_verify(*dir); });
}

}  // namespace normlab::cmd
