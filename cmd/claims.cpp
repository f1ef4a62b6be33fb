// normlab claims: run each claim's experiment (experiments/claims/ID.toml)
// through the sweep engine at a profile size, apply its pre-registered rule,
// and write claims.csv and claims.md. --baseline DIR exits 1 when a verdict
// flips or a decisive number moves beyond the rule's tolerance; --beside DIR
// shows DIR's verdicts beside these in claims.md (claims/beside.h). Each claim's
// rule hash is registered in its folder's manifest before its first run, and
// results are evaluated only under that rule or an amended one
// (claims/registration.h).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include "claims/baseline.h"
#include "claims/plateau.h"
#include "claims/registration.h"
#include "claims/rule.h"
#include "claims/verdict_files.h"
#include "bench/grid_timing.h"
#include "cmd/subcommands.h"
#include "cmd/test_faults.h"
#include "core/build_stamp.h"
#include "core/errors.h"
#include "core/sha256.h"
#include "core/out_path.h"
#include "core/read_file.h"
#include "core/share_dir.h"
#include "history/record.h"
#include "results/csv_check.h"
#include "sweep/interrupt.h"
#include "results/manifest.h"
#include "sweep/manifest.h"
#include "sweep/store.h"
#include "sweep/sweep_dir.h"
#include "sweep/scheduler.h"
#include "results/report_script.h"
#include "results/run_files.h"
#include "train/config_file.h"
#include "train/key_schema.h"

namespace normlab::cmd {

namespace {

namespace fs = std::filesystem;

struct ClaimsOptions {
  std::string profile = "quick";
  std::vector<std::string> only;
  std::string out;  // default results/claims-<profile>
  std::string baseline;
  std::string beside;  // a claims folder whose verdicts claims.md shows beside these
  std::string dir;  // default: experiments/claims in the share folder (core/share_dir.h)
  int jobs = 0;
  bool no_report = false;
  bool evaluate_only = false;
  bool accept_unregistered = false;
  bool rule_hashes = false;
  bool until_decided = false;
  int max_seeds = 0;  // 0: twice the profile's seeds
  bool list = false;
};

// The folder's tables against the SHA-256s its manifest records (sweep/store.h);
// a manifest that records none is refused too: nothing is evaluated unverified.
void add_checksum_problems(const std::string& dir, std::vector<std::string>& problems) {
  nlohmann::json m;
  if (fs::exists(dir + "/manifest.json")) m = read_manifest_grid(dir + "/manifest.json").json;
  for (auto& p : check_result_checksums(dir, m, true)) problems.push_back(std::move(p));
}

// --baseline / --beside DIR: its claims.csv and claims.md have the SHA-256s DIR's
// manifest records (sweep/store.h), so a verdict edited after `claims` wrote it is
// neither gated against nor shown; a folder with no manifest is refused too.
void check_summary_trusted(const char* option, const std::string& dir) {
  const std::string mf = dir + "/manifest.json";
  if (!fs::exists(mf))
    throw ConfigError(fmt::format("{} {}: no manifest.json, so its claims.csv cannot be verified (give a folder "
                                  "that `normlab claims` wrote)", option, dir));
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(read_file_capped(mf));
  } catch (const std::exception& e) {
    throw ConfigError(fmt::format("{} {}: {} cannot be read: {}", option, dir, mf, e.what()));
  }
  const std::vector<std::string> problems = check_summary_checksums(dir, m, true);
  if (!problems.empty())
    throw ConfigError(fmt::format("{} {}: cannot be trusted:\n  {}", option, dir, fmt::join(problems, "\n  ")));
}

// --evaluate-only: every CSV the rule reads is whole (no duplicated row, no
// run without its rows, no NaN metric of a completed run: results/csv_check.h)
// and, where DIR still has its parts, every run's parts are trusted
// (sweep/sweep_dir.h); every table has the checksum the manifest records.
// Refuses naming the file otherwise.
void check_trusted(const std::string& dir, const ClaimRule& rule, const Experiment& ex) {
  std::vector<std::string> problems, notes;
  if (rule.measure == "step-time") {
    problems = duplicate_rows(read_csv(dir + "/timings.csv"));
    add_checksum_problems(dir, problems);
  } else {
    std::vector<std::string> files = {"curves.csv", "activations.csv", "batchstats.csv"};
    if (std::find(files.begin(), files.end(), rule.file) == files.end()) files.push_back(rule.file);
    problems = check_results_csvs(dir, files, &notes);
    add_checksum_problems(dir, problems);
    if (fs::is_directory(dir + "/parts")) {
      // The folder's own numerics are evaluated as they are; only a folder that mixes two is refused.
      const SweepDir sd(dir, PartChecks::full, PartNumerics::any);
      std::vector<std::string> ids;
      for (const auto& r : ex.runs) {
        ids.push_back(r.run_id());
        if (const RunParts c = sd.check_run(r.run_id()); c.state != RunParts::whole)
          problems.push_back(c.state == RunParts::missing ? fmt::format("{}/parts: run {} has no parts", dir, r.run_id())
                                                          : c.problem);
      }
      if (const std::string mixed = mixed_numerics(sd, ids); !mixed.empty()) problems.push_back(mixed);
    }
  }
  for (const auto& n : notes) spdlog::warn("--evaluate-only: {} (a diverged run's metric, kept as data)", n);
  if (problems.empty()) return;
  const std::size_t shown = std::min<std::size_t>(problems.size(), 10);
  throw ConfigError(fmt::format("--evaluate-only: claim {}'s results cannot be trusted:\n  {}{}\nrun without "
                                "--evaluate-only to run the damaged runs again", rule.id,
                                fmt::join(problems.begin(), problems.begin() + long(shown), "\n  "),
                                problems.size() > shown ? fmt::format("\n  ... and {} more", problems.size() - shown) : ""));
}

// --evaluate-only: the claim's CSVs in DIR hold every run of its grid (and no
// other), so its rule can be applied again without running anything.
void check_complete(const std::string& dir, const ClaimRule& rule, const Experiment& ex) {
  const std::string file = dir + "/" + (rule.measure == "step-time" ? "timings.csv" : "runs.csv");
  std::vector<std::string> want;
  for (const auto& r : ex.runs) want.push_back(r.run_id());
  const RunIdMatch m = match_run_ids(read_csv(file), want);
  const ManifestGrid g = read_manifest_grid(dir + "/manifest.json");
  if (g.grid_hash != ex.grid_hash)
    throw ConfigError(fmt::format("--evaluate-only: {}/manifest.json records grid {}, the claim file expands to {}; "
                                  "run without --evaluate-only", dir, g.grid_hash, ex.grid_hash));
  if (!m.exact())
    throw ConfigError(fmt::format("--evaluate-only: {} holds {} of the {} runs of claim {}'s grid (and {} others); "
                                  "run without --evaluate-only to complete it",
                                  file, want.size() - m.missing, want.size(), rule.id, m.extra));
  check_trusted(dir, rule, ex);
}

struct Claim {
  std::string path;
  ClaimRule rule;
  Experiment base;  // the claim file's grid
  Experiment ex;    // the folder's: the grid and any seeds added to it
  ExperimentOptions eo;
  std::string hash;   // the rule hash of the claim file now
  RuleStatus status;  // its folder's registration, checked against the hash
  // --until-decided: the group-sequential design, fixed before the first added seed, and
  // the runs added to the grid, each (the run it copies, its seed), in the order added.
  bool sequential = false;
  SequentialDesign design;
  std::vector<std::pair<std::string, long long>> added;
  long trained = 0;  // runs this command trained (complete runs found in the folder are not counted)
  bool rewritten = true;  // false: --evaluate-only found the folder's manifest already up to date
};

// The grid's seeds in order; seed i beyond them continues from the largest.
long long seed_at(const Experiment& base, std::size_t i) {
  std::set<long long> seeds;
  for (const auto& r : base.runs) seeds.insert(r.integer("seed"));
  const std::vector<long long> v(seeds.begin(), seeds.end());
  return i < v.size() ? v[i] : v.back() + (long long)(i - v.size() + 1);
}

std::size_t seed_count(const Experiment& ex) {
  std::set<long long> seeds;
  for (const auto& r : ex.runs) seeds.insert(r.integer("seed"));
  return seeds.size();
}

// Adds the copies of `from` (a run id of the grid) with `seeds` to the claim's experiment; returns
// the pairs that were new.
std::vector<std::pair<std::string, long long>> add_seeds(Claim& c, const std::vector<std::pair<std::string, long long>>& want) {
  std::map<std::string, const RunConfig*> by_id;
  for (const auto& r : c.ex.runs) by_id[r.run_id()] = &r;
  std::vector<RunConfig> more;
  std::vector<std::pair<std::string, long long>> fresh;
  std::set<std::string> seen;
  for (const auto& [from, seed] : want) {
    const auto it = by_id.find(from);
    if (it == by_id.end())
      throw ConfigError(fmt::format("claim {}: the added seeds name run {}, which its grid does not hold", c.rule.id, from));
    RunConfig r = *it->second;
    r.set("seed", std::to_string(seed));
    if (by_id.count(r.run_id()) || !seen.insert(r.run_id()).second) continue;
    more.push_back(r);
    fresh.push_back({from, seed});
  }
  add_runs(c.ex, more);
  c.added.insert(c.added.end(), fresh.begin(), fresh.end());
  return fresh;
}

nlohmann::json sequential_json(const Claim& c) {
  nlohmann::json added = nlohmann::json::array();
  for (const auto& [from, seed] : c.added) added.push_back({from, seed});
  return {{"spending", "Lan-DeMets O'Brien-Fleming type, one-sided 0.025 (intervals) and 0.05 (TOST)"},
          {"n0", c.design.n0}, {"cap", c.design.cap}, {"looks", c.design.looks}, {"alpha_ci", c.design.alpha_ci},
          {"alpha_tost", c.design.alpha_tost}, {"added", added}};
}

// True when the folder's added seeds copy runs the claim file's grid no longer holds, and
// the reason is a registered amendment: the rules were last applied under another hash and
// the folder's registration reaches the current one through the file's amendments (checked
// by folder_status). Without that amendment the same mismatch is damage, and is refused.
bool amended_grid_since(const Claim& c, const nlohmann::json& m, const nlohmann::json& q) {
  if (c.status.applied.empty() || m.value("rule_hash_evaluated", std::string()) == c.hash) return false;
  if (!q.contains("added") || !q["added"].is_array()) return false;
  std::set<std::string> base;
  for (const auto& r : c.base.runs) base.insert(r.run_id());
  for (const auto& a : q["added"])
    if (a.is_array() && !a.empty() && a[0].is_string() && !base.count(a[0].get<std::string>())) return true;
  return false;
}

// Seeds added until decided belong to an arm of a cell (the values of the rule's `each` keys and
// of its `by` key), not to single runs. When an amendment extends the grid (a new lr, say), each
// seed added to an arm is copied onto the arm's new runs, so that every seed of a cell covers the
// cell's whole grid: a seed whose best lr was chosen from a smaller grid than the other seeds'
// would be selected on a grid the claim file no longer registers. Returns the copies to add.
std::vector<std::pair<std::string, long long>> arm_copies(const Claim& c) {
  const auto value = [](const RunConfig& r, const std::string& k) -> std::optional<std::string> {
    if (!find_run_key(k)) return std::nullopt;  // not a run key: the same for every run
    return r.get(k);
  };
  const auto arm_key = [&](const RunConfig& r) {
    std::string key = value(r, c.rule.by).value_or("");
    for (const auto& k : c.rule.each) {
      key.push_back('\x1e');  // a separator no value holds
      key += value(r, k).value_or("");
    }
    return key;
  };
  const auto selected = [&](const RunConfig& r) {
    return run_selected(c.rule, [&](const std::string& k) { return value(r, k); });
  };
  std::map<std::string, const RunConfig*> base;
  for (const auto& r : c.base.runs) base[r.run_id()] = &r;
  std::map<long long, std::set<std::string>> arms;  // added seed -> the arms it was added to
  for (const auto& [from, seed] : c.added)
    if (const auto it = base.find(from); it != base.end()) arms[seed].insert(arm_key(*it->second));
  const long long first = seed_at(c.base, 0);
  std::vector<std::pair<std::string, long long>> want;
  for (const auto& [seed, keys] : arms)
    for (const auto& r : c.base.runs)
      if (r.integer("seed") == first && selected(r) && keys.count(arm_key(r))) want.push_back({r.run_id(), seed});
  return want;
}

// A folder's sequential record: its design and added seeds, applied to the claim's experiment
// (so its grid is the folder's). A --max-seeds other than the recorded cap is refused: the
// look schedule is fixed before the first added seed.
void load_sequential(Claim& c, const std::string& mpath, const ClaimsOptions& o) {
  if (!fs::exists(mpath)) return;
  const nlohmann::json m = read_manifest_grid(mpath).json;
  if (!m.contains("sequential")) return;
  const auto& q = m["sequential"];
  if (amended_grid_since(c, m, q) && !o.evaluate_only) {
    spdlog::warn("claim {}: its claim file was amended since {} was written, and the {} seed(s) added until decided "
                 "copy runs of the old grid: they are not carried over; the sequential design starts again from the "
                 "amended grid's own seeds", c.rule.id, mpath, q.value("added", nlohmann::json::array()).size());
    return;
  }
  try {
    c.sequential = true;
    c.design = sequential_design(q.at("n0").get<int>(), q.at("cap").get<int>());
    std::vector<std::pair<std::string, long long>> want;
    for (const auto& a : q.at("added")) want.push_back({a.at(0).get<std::string>(), a.at(1).get<long long>()});
    add_seeds(c, want);
    if (const auto more = add_seeds(c, arm_copies(c)); !more.empty())
      spdlog::info("claim {}: {} run(s) copy the seeds added until decided onto runs the amended grid gained in the "
                   "same cells and arms", c.rule.id, more.size());
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(fmt::format("{}: sequential: {}", mpath, e.what()));
  }
  if (o.max_seeds > 0 && o.max_seeds != c.design.cap)
    throw ConfigError(fmt::format("--max-seeds: {} was given, but {} fixed the cap at {} seeds (looks at {}) before its "
                                  "first added seed; the look schedule cannot change afterwards (give --max-seeds {}, or "
                                  "write to a new --out)", o.max_seeds, mpath, c.design.cap,
                                  fmt::join(c.design.looks, ", "), c.design.cap));
}

// --until-decided: the design for a claim without one: n0 = the grid's seeds, the cap from
// --max-seeds (default 2 n0). Refused (exit 2) when the cap is below n0.
void start_sequential(Claim& c, const ClaimsOptions& o) {
  if (c.sequential || c.rule.measure == "step-time") return;
  const int n0 = int(seed_count(c.ex)), cap = o.max_seeds > 0 ? o.max_seeds : 2 * n0;
  if (cap < n0)
    throw ConfigError(fmt::format("--max-seeds: {} is below claim {}'s {} seeds (profile {}); the cap counts every seed, "
                                  "the grid's included", cap, c.rule.id, n0, o.profile));
  c.sequential = true;
  c.design = sequential_design(n0, cap);
}

// The seeds to add in the next round: for each cell still undecided (inconclusive, or waiting on
// an undecided positive control), its runs' copies up to the next look's seed count.
std::vector<std::pair<std::string, long long>> next_round(const Claim& c, const Experiment& base, const ClaimResult& res) {
  std::vector<std::pair<std::string, long long>> want;
  const long long first = seed_at(base, 0);
  for (const auto& cell : res.comparisons) {
    const bool undecided = cell.verdict == Verdict::inconclusive ||
                           (cell.verdict == Verdict::untestable && cell.why == Why::control_undecided);
    const std::size_t j = std::size_t(look_of(c.design, int(cell.diffs.size())));
    if (!undecided || j + 1 >= c.design.looks.size()) continue;
    for (const auto& r : base.runs) {
      if (r.integer("seed") != first) continue;
      const auto value = [&](const std::string& k) -> std::optional<std::string> {
        if (!find_run_key(k)) return std::nullopt;
        return r.get(k);
      };
      if (!run_feeds_cell(c.rule, cell, value)) continue;
      for (int i = 0; i < c.design.looks[j + 1]; ++i) want.push_back({r.run_id(), seed_at(base, std::size_t(i))});
    }
  }
  return want;
}

// The claim's rule hash: its rule and the grid of every profile the file defines.
std::string claim_rule_hash(const std::string& path, const ClaimRule& rule) {
  std::map<std::string, std::string> grids;
  const toml::table t = read_toml_file(path);
  if (const auto* profiles = t["profile"].as_table())
    for (const auto& [name, v] : *profiles) {
      ExperimentOptions eo;
      eo.profile = std::string(name.str());
      grids[eo.profile] = load_experiment(path, eo).grid_hash;
    }
  if (grids.empty()) grids[""] = load_experiment(path).grid_hash;
  return rule_hash(rule, grids);
}

// The folder's registration checked against the claim's hash: a folder without
// results is registered now, before its first run.
RuleStatus folder_status(const Claim& c, const std::string& dir, bool accept_unregistered) {
  const std::string mpath = dir + "/manifest.json";
  const bool results = fs::exists(mpath) || fs::exists(dir + "/runs.csv") || fs::exists(dir + "/timings.csv");
  if (!results) return RuleStatus{c.hash, Registration{c.hash, utc_now(), false}, {}};
  nlohmann::json m;
  if (fs::exists(mpath)) m = read_manifest_grid(mpath).json;
  return check_registration(c.path, c.rule, mpath, read_registration(m, mpath), c.hash, accept_unregistered);
}

// The registration as the manifest records it, with the hash the rules were last applied under.
void add_registration(nlohmann::json& m, const RuleStatus& st) {
  m["rule_registration"] = registration_json(st.registered);
  m["rule_hash_evaluated"] = st.current;
  nlohmann::json applied = nlohmann::json::array();
  for (const auto& a : st.applied) applied.push_back({{"date", a.date}, {"from_hash", a.from_hash}, {"to_hash", a.to_hash}});
  m["amendments_applied"] = applied;
}

// --baseline: each claim's folder in the baseline was registered under the current
// rule, or the claim file's amendments lead from its hash to the current one.
void check_baseline_rules(const std::string& base, const std::vector<Claim>& claims, bool accept_unregistered) {
  for (const auto& c : claims) {
    const std::string mpath = base + "/" + c.rule.id + "/manifest.json";
    nlohmann::json m;
    if (fs::exists(mpath)) m = read_manifest_grid(mpath).json;
    const RuleStatus st = check_registration(c.path, c.rule, mpath, read_registration(m, mpath), c.hash,
                                             accept_unregistered);
    if (st.registered.legacy) spdlog::warn("--baseline: {} records no rule hash; compared as unregistered", mpath);
  }
}

// A claim's folder belongs to its id: its experiment may change (the CSVs hold
// the current grid's runs), so the identity compared is the name alone.
StoreIdentity claim_identity(const Claim& c) { return StoreIdentity::grid(StoreKind::claim, c.ex.name); }

// The machine a step-time claim's timings were measured on (with the manifest's "build").
nlohmann::json timing_machine() {
  const Machine m = this_machine();
  return {{"cpu", m.cpu}, {"cores", m.cores}};
}

// finished: empty while the claim's runs are under way (the folder is claimed
// before its first run, so an interrupted claim resumes into its own store).
std::string claim_manifest(const Claim& c, const std::string& dir, const std::string& started, bool finished = true) {
  auto m = sweep_manifest(c.ex, c.eo, started, finished ? utc_now() : "");
  m.update(store_fields(StoreIdentity::grid(StoreKind::claim, c.ex.name, c.ex.runs)));
  add_registration(m, c.status);
  if (c.sequential) m["sequential"] = sequential_json(c);
  if (c.rule.measure == "step-time") m["timed_on"] = timing_machine();  // with "build": whose times these are
  m["runs_trained"] = c.trained;  // by the command that wrote this manifest: its wall time is theirs
  if (finished) m["files"] = result_checksums(dir);
  return m.dump(2);
}

// --evaluate-only, same grid, rules applied again: the manifest now shows the
// claim file whose rules gave these verdicts. It is rewritten (with the time the
// rules were applied again) only when that changes something else in it: a command
// that changes nothing leaves the store's files as the command that wrote them left
// them. Returns whether it was rewritten.
bool refresh_manifest(const std::string& dir, const Claim& c) {
  ManifestGrid g = read_manifest_grid(dir + "/manifest.json");
  nlohmann::json before = g.json;
  g.json["experiment"]["text"] = c.ex.text;
  if (g.json.contains("datasets"))  // older manifests recorded the data folder's absolute path
    for (auto& d : g.json["datasets"])
      if (d.contains("location") && d["location"].is_string())
        d["location"] = recorded_location(d["location"].get<std::string>());
  add_registration(g.json, c.status);
  before.erase("rules_reapplied");
  if (nlohmann::json after = g.json; after.erase("rules_reapplied"), after == before) return false;
  g.json["rules_reapplied"] = utc_now();
  write_file_atomic(dir + "/manifest.json", g.json.dump(2) + "\n");
  return true;
}

// Runs the claim's grid into its folder (complete runs are skipped); the manifest, with the
// registered rule and the sequential design, is written first. Returns the runs that failed.
int run_grid(Claim& c, const std::string& dir, const SweepOptions& so, const std::string& started) {
  const SweepDir sd(dir);
  fs::create_directories(dir);
  write_file_atomic(dir + "/manifest.json", claim_manifest(c, dir, started, false) + "\n");
  const auto sum = run_sweep(c.ex, sd, so, [&](const SweepProgress& p, const std::string&) {
    if (p.done % 10 == 0 || p.done + p.skipped == p.total)
      spdlog::info("{}: {}/{} runs", c.rule.id, p.skipped + p.done, p.total);
  });
  if (const int sig = stop_requested().load())
    throw Interrupted(sig, fmt::format(
        "claims: stopped by signal {} in claim {}: {} of its {} runs complete, {} abandoned midway; nothing "
        "partial was kept. Run the same command again to resume (complete runs are skipped).",
        sig, c.rule.id, sum.progress.skipped + sum.progress.done, sum.progress.total, sum.abandoned.size()));
  c.trained += sum.progress.done;
  write_file_atomic(dir + "/manifest.json", claim_manifest(c, dir, started) + "\n");
  return sum.progress.failed;
}

// The rule applied to the folder's CSVs (at each cell's look, with a sequential design).
ClaimResult evaluate_folder(const Claim& c, const std::string& dir) {
  const CsvTable curves = read_csv(dir + "/curves.csv"), acts = read_csv(dir + "/activations.csv");
  const CsvTable runs = read_csv(dir + "/runs.csv");
  const CsvTable table = c.rule.file == "runs.csv" ? runs : join_runs(read_csv(dir + "/" + c.rule.file), runs);
  ClaimResult res = evaluate_claim(c.rule, table, &curves, &acts, c.sequential ? &c.design : nullptr);
  assess_plateaus(c.rule, table, curves, res);
  if (c.sequential)
    res.note += fmt::format("{}seeds added until decided: looks at {} seeds (cap {}), O'Brien-Fleming-type alpha "
                            "spending; each cell read at its look's level", res.note.empty() ? "" : "; ",
                            fmt::join(c.design.looks, ", "), c.design.cap);
  return res;
}

// --only: the other claims whose folders are in OUT, each checked as --evaluate-only checks
// (its store, its registered rule, a complete and trusted grid), so that claims.csv and claims.md
// go on summarizing every claim in the folder. Refused (exit 2), before anything runs, when
// such a folder cannot be evaluated: rewriting the summary without it would drop its rows.
std::vector<Claim> claims_kept(const std::string& out, std::vector<Claim> others, const ClaimsOptions& o) {
  std::vector<Claim> kept;
  ClaimsOptions eval = o;
  eval.max_seeds = 0;  // a kept folder's sequential cap is its own
  for (auto& c : others) {
    const std::string dir = out + "/" + c.rule.id;
    if (!fs::exists(dir)) continue;
    try {
      guard_store("--out", dir, claim_identity(c), false);
      c.status = folder_status(c, dir, o.accept_unregistered);
      load_sequential(c, dir + "/manifest.json", eval);
      check_complete(dir, c.rule, c.ex);
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format(
          "--only: {} also holds claim {}, which was not selected; claims.csv and claims.md summarize every claim "
          "in the folder, and {}'s results cannot be evaluated now:\n  {}\nselect it too (--only ... {}), or "
          "write to another --out", out, c.rule.id, c.rule.id, e.what(), c.rule.id));
    }
    kept.push_back(std::move(c));
  }
  return kept;
}

// OUT's claim folders (a manifest of kind "claim") must each belong to a claim file read now:
// claims.csv and claims.md are rewritten for the claims known, so a folder of a claim whose file
// is gone (renamed, or not in --dir) would lose its rows. Refused (exit 2) before anything changes.
void check_no_orphans(const std::string& out, const std::vector<Claim>& claims, const std::vector<Claim>& others,
                      const ClaimsOptions& o) {
  if (!fs::is_directory(out)) return;
  std::set<std::string> known;
  for (const auto* v : {&claims, &others})
    for (const auto& c : *v) known.insert(c.rule.id);
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string id = e.path().filename().string(), mpath = e.path().string() + "/manifest.json";
    if (!e.is_directory() || known.count(id) || !fs::exists(mpath)) continue;
    nlohmann::json m;
    try {
      m = nlohmann::json::parse(read_file_capped(mpath));
    } catch (const nlohmann::json::exception&) {
      continue;  // not a claims manifest: not ours to summarize
    }
    if (m.is_object() && m.value("kind", "") == "claim")
      throw ConfigError(fmt::format(
          "--out: {} holds the results of claim {}, which has no claim file in {}; claims.csv and claims.md "
          "summarize the claims of the claim files, so its rows would be lost (give --dir with its claim file, "
          "move the folder away, or write to another --out)", e.path().string(), id,
          o.dir.empty() ? share_file("experiments/claims") : o.dir));
  }
}

// A kept claim's rule applied again to its folder (nothing in the folder is written).
ClaimResult evaluate_kept(const Claim& c, const std::string& dir) {
  if (c.rule.measure == "step-time") return evaluate_claim(c.rule, read_csv(dir + "/timings.csv"));
  return evaluate_folder(c, dir);
}

// Seconds from one UTC time stamp (YYYY-MM-DDTHH:MM:SSZ) to another; < 0 when either does not parse.
double seconds_between(const std::string& from, const std::string& to) {
  std::tm a{}, b{};
  if (!strptime(from.c_str(), "%Y-%m-%dT%H:%M:%SZ", &a) || !strptime(to.c_str(), "%Y-%m-%dT%H:%M:%SZ", &b)) return -1;
  return double(timegm(&b) - timegm(&a));
}

// A claim folder's workload (claims/verdict_files.h); empty for a timed claim (no runs.csv).
ClaimWorkload claim_workload(const std::string& dir) {
  ClaimWorkload w;
  if (!fs::exists(dir + "/runs.csv")) return w;
  const CsvTable t = read_csv(dir + "/runs.csv");
  std::map<std::string, std::pair<double, double>> per;  // model -> (samples, seconds)
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const double s = t.num(i, "train_seconds"), steps = t.num(i, "steps_done"), b = t.num(i, "batch-size");
    ++w.runs;
    if (const std::string ds = t.at(i, "dataset");
        std::find(w.datasets.begin(), w.datasets.end(), ds) == w.datasets.end())
      w.datasets.push_back(ds);
    if (!std::isfinite(s)) continue;
    w.train_s += s;
    if (std::isfinite(steps) && std::isfinite(b)) {
      per[t.at(i, "model")].first += steps * b;
      per[t.at(i, "model")].second += s;
    }
  }
  for (const auto& [model, v] : per)
    if (v.second > 0) w.samples_per_s.push_back({model, v.first / v.second});
  if (fs::exists(dir + "/manifest.json")) {
    const nlohmann::json m = read_manifest_grid(dir + "/manifest.json").json;
    if (m.contains("started") && m.contains("finished") && m["started"].is_string() && m["finished"].is_string())
      w.wall_s = seconds_between(m["started"].get<std::string>(), m["finished"].get<std::string>());
    if (m.contains("runs_trained") && m["runs_trained"].is_number_integer()) w.trained = m["runs_trained"].get<long>();
  }
  return w;
}

// claims.md's text with the time of its "Generated <time> by" line taken out.
std::string without_stamp(std::string md) {
  const std::string head = "Generated ";
  const std::size_t at = md.find("\n" + head), end = at == std::string::npos ? at : md.find(" by ", at);
  if (end != std::string::npos) md.erase(at + 1 + head.size(), end - at - 1 - head.size());
  return md;
}

// OUT already holds this claims.csv, and this claims.md but for the time it was
// generated, as its manifest records them (so the files it keeps are the ones it checksummed).
bool summary_unchanged(const std::string& out, const std::string& csv, const std::string& md) {
  const std::string mpath = out + "/manifest.json", cpath = out + "/claims.csv", dpath = out + "/claims.md";
  if (!fs::exists(mpath) || !fs::exists(cpath) || !fs::exists(dpath)) return false;
  const std::string old_csv = read_file_capped(cpath), old_md = read_file_capped(dpath);
  if (old_csv != csv || without_stamp(old_md) != without_stamp(md)) return false;
  const nlohmann::json m = nlohmann::json::parse(read_file_capped(mpath), nullptr, false);
  if (m.is_discarded() || !m.contains("files") || !m["files"].is_object()) return false;
  return m["files"].value("claims.csv", "") == sha256_hex(old_csv) && m["files"].value("claims.md", "") == sha256_hex(old_md);
}

// OUT's manifest, claims.csv and claims.md: the claims run now and the kept ones, in file order;
// left as they are when nothing but the time would change. Returns whether they were written.
bool write_summary(const std::string& out, const StoreIdentity& me, const std::string& profile,
                   const std::vector<Claim>& run, const std::vector<ClaimResult>& run_results,
                   const std::vector<Claim>& kept, const Beside* beside) {
  std::vector<std::pair<const Claim*, ClaimResult>> all;
  for (std::size_t i = 0; i < run.size(); ++i) all.push_back({&run[i], run_results[i]});
  for (const auto& c : kept) all.push_back({&c, evaluate_kept(c, out + "/" + c.rule.id)});
  std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first->path < b.first->path; });
  std::vector<ClaimRule> rules;
  std::vector<ClaimResult> results;
  std::vector<RuleStatus> statuses;
  std::vector<std::string> ids;
  std::vector<ClaimWorkload> work;
  for (const auto& [c, r] : all) {
    rules.push_back(c->rule);
    results.push_back(r);
    statuses.push_back(c->status);
    ids.push_back(c->rule.id);
    work.push_back(claim_workload(out + "/" + c->rule.id));
  }
  const std::string csv = claims_csv(rules, results), md = claims_md(rules, results, profile, statuses, work, beside);
  if (summary_unchanged(out, csv, md)) {
    spdlog::info("{}/claims.csv and claims.md: unchanged, left as they were", out);
    return false;
  }
  nlohmann::json top = store_fields(me);
  top["command"] = "claims";
  top["claims"] = ids;
  top["finished"] = utc_now();
  top["files"] = {{"claims.csv", sha256_hex(csv)}, {"claims.md", sha256_hex(md)}};
  write_file_atomic(out + "/manifest.json", top.dump(2) + "\n");
  write_file_atomic(out + "/claims.csv", csv);
  write_file_atomic(out + "/claims.md", md);
  if (!kept.empty()) spdlog::info("claims.csv and claims.md also summarize {} claim(s) already in {}", kept.size(), out);
  return true;
}

// The claim files of the claims folder, in name order.
std::vector<std::string> claim_files(const ClaimsOptions& o) {
  std::vector<std::string> files;
  const std::string claims_dir = o.dir.empty() ? share_file("experiments/claims") : o.dir;
  if (!fs::is_directory(claims_dir)) throw ConfigError(fmt::format("--dir: {} is not a directory", claims_dir));
  for (const auto& e : fs::directory_iterator(claims_dir))
    if (e.path().extension() == ".toml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// A rule that reads test at every evaluation point and a grid whose runs evaluate it only at
// step 0 and the end (eval-between = val) would decide on missing points: refused.
void check_test_reads(const std::string& file, const ClaimRule& rule, const Experiment& ex) {
  const std::string reads = reads_test_curves(rule);
  if (reads.empty()) return;
  for (const auto& r : ex.runs)
    if (r.get("eval-between") == "val")
      throw ConfigError(fmt::format("{}: eval-between: val evaluates test only at step 0 and the last point, and the "
                                    "rule's {} reads test at every evaluation point (allowed: eval-between = all)",
                                    file, reads));
}

// Every claim file read and checked (ids unique, --only known), each claim's experiment at the
// profile's size; CLAIMS gets the selected ones, OTHERS the rest. --list prints and loads nothing.
void read_claims(const ClaimsOptions& o, std::vector<Claim>& claims, std::vector<Claim>& others) {
  std::vector<std::string> ids;
  std::map<std::string, std::string> file_of;  // id -> claim file
  std::string listing;                         // --list: printed once every file has been read and checked
  for (const auto& f : claim_files(o)) {
    Claim c;
    c.path = f;
    c.rule = read_claim_rule(f);
    // The id names the claim's folder under --out and its rows of claims.csv.
    check_store_name(f, "id", c.rule.id);
    if (const auto [it, fresh] = file_of.emplace(c.rule.id, f); !fresh)
      throw ConfigError(fmt::format("{}: id: '{}' is the id of {} too; each claim needs its own id (it names the "
                                    "claim's folder and its rows of claims.csv)", f, c.rule.id, it->second));
    ids.push_back(c.rule.id);
    if (o.list) {
      listing += fmt::format("{:<22} {}\n", c.rule.id, f);
      continue;
    }
    const bool selected = o.only.empty() || std::find(o.only.begin(), o.only.end(), c.rule.id) != o.only.end();
    c.eo.profile = o.profile;
    c.ex = c.base = load_experiment(f, c.eo);
    c.ex.path = c.base.path = share_relative(f);  // manifests name the suite's file, not this machine's folder
    check_test_reads(f, c.rule, c.ex);
    c.hash = claim_rule_hash(c.path, c.rule);
    (selected ? claims : others).push_back(std::move(c));
  }
  for (const auto& id : o.only)
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      throw ConfigError(fmt::format("--only: unknown claim '{}' (allowed: {})", id, fmt::join(ids, ", ")));
  std::fputs(listing.c_str(), stdout);
}

// OUT and each selected claim's folder checked before anything runs or changes: the stores'
// identities, the rule each folder was registered under, any seeds added until decided, and
// under --evaluate-only a complete grid.
void check_out(const ClaimsOptions& o, const std::string& out, const StoreIdentity& me, std::vector<Claim>& claims) {
  check_out_spelling("--out", out);
  guard_store("--out", out, me, false);
  for (const auto& c : claims) guard_store("--out", out + "/" + c.rule.id, claim_identity(c), false);
  if (!o.evaluate_only)  // runs to train: on the data the folder's runs were trained on
    for (const auto& c : claims) check_same_datasets("--out", out + "/" + c.rule.id, c.ex.runs);
  for (auto& c : claims) {
    c.status = folder_status(c, out + "/" + c.rule.id, o.accept_unregistered);
    load_sequential(c, out + "/" + c.rule.id + "/manifest.json", o);
    if (o.until_decided) start_sequential(c, o);
  }
  if (o.evaluate_only)
    for (const auto& c : claims) check_complete(out + "/" + c.rule.id, c.rule, c.ex);
}

SweepOptions claims_sweep_options(const ClaimsOptions& o) {
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  SweepOptions so;
  so.faults = test_faults();
  so.warn = [](const std::string& m) { spdlog::warn("{}", m); };
  so.jobs = o.jobs > 0 ? o.jobs : cores;
  so.threads_per_run = std::max(1, cores / so.jobs);
  install_stop_handlers();  // SIGINT/SIGTERM/SIGUSR1: keep complete runs, say how to resume
  so.stop = &stop_requested();
  return so;
}

// Why DIR's complete timings.csv does not measure this binary on this machine (empty: it
// does, and is reused). Its SHA-256 must be the one the manifest records (else it was
// changed after it was written). A step time is a property of one build on one CPU: the
// manifest that recorded the timing must name this build (every field of build_info, from
// a clean commit, which alone identifies the code) and this machine (timed_on).
std::string timings_not_reusable(const std::string& dir) {
  const std::string mf = dir + "/manifest.json";
  if (!fs::exists(mf)) return "no manifest.json says which build timed it";
  const nlohmann::json m = read_manifest_grid(mf).json;
  // The bytes first: a table changed after its command wrote it says nothing about any build.
  if (const auto bad = check_result_checksums(dir, m, true); !bad.empty()) return fmt::format("{}", fmt::join(bad, "; "));
  const nlohmann::json now = build_info();
  if (!is_clean_commit_stamp(now["git_commit"].get<std::string>()))
    return fmt::format("this binary's commit stamp is {}, which identifies no code", now["git_commit"].get<std::string>());
  if (!m.contains("build") || m["build"] != now)
    return fmt::format("it was timed by another build (commit {}; this is {})",
                       m.contains("build") && m["build"].contains("git_commit") ? m["build"]["git_commit"].dump() : "?",
                       now["git_commit"].dump());
  if (!m.contains("timed_on") || m["timed_on"] != timing_machine())
    return fmt::format("it was timed on another machine ({}; this is {})",
                       m.contains("timed_on") ? m["timed_on"].dump() : "not recorded", timing_machine().dump());
  return "";
}

// A step-time claim: timed one configuration at a time (concurrent jobs would time each other).
// Like a sweep, a complete earlier measurement of the same grid is reused, if this binary on
// this machine made it (timings_not_reusable); otherwise the grid is timed again.
ClaimResult time_claim(const ClaimsOptions& o, Claim& c, const std::string& dir) {
  const std::string started = utc_now();
  fs::create_directories(dir);
  const bool complete = !o.evaluate_only && timings_complete(dir + "/timings.csv", c.ex.runs);
  const std::string stale = complete ? timings_not_reusable(dir) : "";
  if (o.evaluate_only) {
    c.rewritten = refresh_manifest(dir, c);
  } else if (complete && stale.empty()) {
    spdlog::info("{}: reusing {}/timings.csv, timed by this build on this machine (remove it to time again)",
                 c.rule.id, dir);
    refresh_manifest(dir, c);
  } else {
    if (complete) spdlog::info("{}: timing {}/timings.csv again: {}", c.rule.id, dir, stale);
    write_file_atomic(dir + "/manifest.json", claim_manifest(c, dir, started, false) + "\n");  // registered first
    spdlog::info("{}: timing {} configurations, one at a time", c.rule.id, c.ex.runs.size());
    TimingOptions topt;
    topt.min_total_s = o.profile == "full" ? 0.5 : 0.2;
    write_file_atomic(dir + "/timings.csv", time_step_configs(c.ex.runs, c.ex.specs, topt));
    write_file_atomic(dir + "/manifest.json", claim_manifest(c, dir, started) + "\n");
  }
  return evaluate_claim(c.rule, read_csv(dir + "/timings.csv"));
}

// A claim's grid run (or, --evaluate-only, its rules applied again) and evaluated; with
// --until-decided, rounds of seeds for the undecided cells, up to the design's next look each.
ClaimResult run_claim(const ClaimsOptions& o, Claim& c, const std::string& dir, const SweepOptions& so, int& errors) {
  if (c.rule.measure == "step-time") return time_claim(o, c, dir);
  const std::string started = utc_now();
  if (o.evaluate_only) c.rewritten = refresh_manifest(dir, c);
  else errors += run_grid(c, dir, so, started);
  ClaimResult res = evaluate_folder(c, dir);
  for (int round = 1; o.until_decided && c.sequential; ++round) {
    const auto fresh = add_seeds(c, next_round(c, c.base, res));
    if (fresh.empty()) break;
    spdlog::info("{}: round {}: {} runs with new seeds for the undecided cells", c.rule.id, round, fresh.size());
    errors += run_grid(c, dir, so, started);
    res = evaluate_folder(c, dir);
  }
  return res;
}

void run_claims(const ClaimsOptions& o) {
  if (o.profile != "quick" && o.profile != "full")
    throw ConfigError(fmt::format("--profile: '{}' (allowed: quick, full)", o.profile));
  // Everything is read and checked before anything runs.
  std::vector<Claim> claims, others;  // others: not selected by --only
  read_claims(o, claims, others);
  if (o.list) return;
  if (o.rule_hashes) {
    for (const auto& c : claims) std::printf("%-22s %s\n", c.rule.id.c_str(), c.hash.c_str());
    return;
  }
  for (const auto& c : claims) validate_runs(c.ex);
  std::vector<ClaimRule> rules;
  for (const auto& c : claims) rules.push_back(c.rule);
  if (!o.baseline.empty()) {
    check_summary_trusted("--baseline", o.baseline);
    check_baseline(o.baseline, rules);
    check_baseline_rules(o.baseline, claims, o.accept_unregistered);
  }
  std::optional<Beside> beside;
  if (!o.beside.empty()) {
    check_summary_trusted("--beside", o.beside);
    beside = read_beside(o.beside);
  }
  const std::string out = store_path(o.out.empty() ? "results/claims-" + o.profile : o.out);
  if (beside && fs::exists(out) && fs::equivalent(out, o.beside))
    throw ConfigError(fmt::format("--beside {}: the output folder itself (give another claims folder)", o.beside));
  const StoreIdentity me = StoreIdentity::claims_of(o.profile);
  check_out(o, out, me, claims);
  check_no_orphans(out, claims, others, o);
  const std::vector<Claim> kept = claims_kept(out, std::move(others), o);
  prepare_out_dir("--out", out);  // before any claim runs
  // Evidence from a binary no commit reproduces: said here, and in every manifest it writes.
  if (const std::string note = source_note(build_stamp().git_commit); !note.empty() && !o.evaluate_only)
    spdlog::warn("{}; its results are recorded as such. Commit, rebuild and run again for evidence", note);

  const SweepOptions so = claims_sweep_options(o);
  std::vector<ClaimResult> results;
  int errors = 0;
  // A claim's report (one Python process) is drawn while the next claim's runs train.
  std::vector<std::future<bool>> reports;
  for (auto& c : claims) {
    const std::string dir = out + "/" + c.rule.id;
    results.push_back(run_claim(o, c, dir, so, errors));
    spdlog::info("{}: {}", c.rule.id, verdict_text(results.back()));
    // report.py draws again only when its code or the folder's files changed since report.md
    // was drawn (its stamp): --evaluate-only that changes nothing rewrites no file.
    if (!o.no_report) reports.push_back(std::async(std::launch::async, [dir] { return render_report(dir); }));
  }
  for (auto& r : reports) r.get();
  write_summary(out, me, o.profile, claims, results, kept, beside ? &*beside : nullptr);
  if (!o.no_report) render_report(out);  // forest.png: every cell of every claim (when anything changed)
  std::printf("%-22s %s\n", "claim", "verdict");
  for (std::size_t i = 0; i < claims.size(); ++i)
    std::printf("%-22s %s\n", claims[i].rule.id.c_str(), verdict_text(results[i]).c_str());
  spdlog::info("wrote {}/claims.md and claims.csv", out);
  if (errors) throw std::runtime_error(fmt::format("{} run(s) ended in error", errors));
  if (!o.baseline.empty() && compare_baseline(o.baseline, rules, results) > 0)
    throw std::runtime_error(fmt::format("claims changed against the baseline {}", o.baseline));
}

}  // namespace

void setup_claims(CLI::App& app) {
  auto o = std::make_shared<ClaimsOptions>();
  auto* sub = app.add_subcommand("claims", "Test the documented claims about batch norm and give verdicts");
  sub->add_option("--profile", o->profile, "quick (minutes, for CI) or full")->capture_default_str();
  sub->add_option("--only", o->only, "only these claim ids (repeat it, or separate ids with commas)")->delimiter(',');
  sub->add_option("--out", o->out, "output directory [default: results/claims-<profile>]")->check(kNotEmpty);
  sub->add_option("--baseline", o->baseline, "compare with this claims directory; exit 1 on a change")
      ->check(kExistingDir);
  sub->add_option("--beside", o->beside,
                  "a claims folder whose verdicts claims.md shows beside these, per claim and per cell, with the "
                  "cells both decide and whether they agree (e.g. the quick profile on MNIST 10k beside the full "
                  "profile); read, never re-evaluated or gated")
      ->check(kExistingDir);
  sub->add_option("--dir", o->dir,
                  "directory of claim experiment files [default: experiments/claims beside the binary: "
                  "<prefix>/share/normlab, the source checkout of a build tree, or $NORMLAB_SHARE_DIR]");
  auto* list = sub->add_flag("--list", o->list, "print each claim's id and file, then exit (runs nothing, writes nothing)");
  sub->add_option("-j,--jobs", o->jobs, "runs at once [default: the core count]")->check(CLI::Range(1, kMaxThreads));
  sub->add_flag("--no-report", o->no_report, "skip the per-claim figures (scripts/report.py)");
  auto* eval = sub->add_flag("--evaluate-only", o->evaluate_only,
                "apply the rules again to the CSVs already in the output directory; run nothing "
                "(exit 2 unless each claim's CSVs hold exactly its grid's runs)");
  sub->add_flag("--accept-unregistered", o->accept_unregistered,
                "evaluate results whose manifest records no rule hash (from before rules were registered): "
                "register the current rule for them, marked in claims.md as registered after the results");
  auto* until = sub->add_flag("--until-decided", o->until_decided,
                "add seeds in rounds to the runs behind undecided cells until every cell is decided or the cap is "
                "reached (group-sequential: O'Brien-Fleming-type alpha spending over looks fixed by the cap)");
  sub->add_option("--max-seeds", o->max_seeds, "--until-decided's cap on seeds per cell [default: twice the profile's]")
      ->check(CLI::Range(1, 100000))
      ->needs(until);
  until->excludes(eval);
  auto* hashes = sub->add_flag("--rule-hashes", o->rule_hashes,
                "print each claim's rule hash (what [[amendment]] from_hash / to_hash record) and run nothing");
  // --list and --rule-hashes read the claim files and nothing else: an option they would
  // ignore is refused (exit 2), not dropped. --list prints every claim; --rule-hashes keeps --only.
  for (const char* name : {"--out", "--baseline", "--beside", "--jobs", "--no-report", "--evaluate-only",
                           "--accept-unregistered", "--until-decided", "--max-seeds", "--profile"}) {
    list->excludes(sub->get_option(name));
    hashes->excludes(sub->get_option(name));
  }
  list->excludes(sub->get_option("--only"));
  list->excludes(hashes);
  sub->callback([o] { run_claims(*o); });
}

}  // namespace normlab::cmd
