// normlab claims: run each claim's experiment (experiments/claims/ID.toml)
// through the sweep engine at a profile size, apply its pre-registered rule,
// and write claims.csv and claims.md. --baseline DIR exits 1 when a verdict
// flips or a decisive number moves beyond the rule's tolerance.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "claims/baseline.h"
#include "claims/rule.h"
#include "claims/verdict_files.h"
#include "bench/grid_timing.h"
#include "cmd/subcommands.h"
#include "cmd/test_faults.h"
#include "core/errors.h"
#include "core/out_path.h"
#include "core/share_dir.h"
#include "results/csv_check.h"
#include "sweep/interrupt.h"
#include "sweep/manifest.h"
#include "sweep/store.h"
#include "sweep/sweep_dir.h"
#include "sweep/scheduler.h"
#include "results/report_script.h"
#include "results/run_files.h"

namespace normlab::cmd {

namespace {

namespace fs = std::filesystem;

struct ClaimsOptions {
  std::string profile = "quick";
  std::vector<std::string> only;
  std::string out;  // default results/claims-<profile>
  std::string baseline;
  std::string dir;  // default: experiments/claims in the share folder (core/share_dir.h)
  int jobs = 0;
  bool no_report = false;
  bool evaluate_only = false;
  bool list = false;
};

// --evaluate-only: every CSV the rule reads is whole (no duplicated row, no
// run without its rows, no NaN metric of a completed run: results/csv_check.h)
// and, where DIR still has its parts, every run's parts are trusted
// (sweep/sweep_dir.h). Refuses naming the file otherwise.
void check_trusted(const std::string& dir, const ClaimRule& rule, const Experiment& ex) {
  std::vector<std::string> problems, notes;
  if (rule.measure == "step-time") {
    problems = duplicate_rows(read_csv(dir + "/timings.csv"));
  } else {
    std::vector<std::string> files = {"curves.csv", "activations.csv", "batchstats.csv"};
    if (std::find(files.begin(), files.end(), rule.file) == files.end()) files.push_back(rule.file);
    problems = check_results_csvs(dir, files, &notes);
    if (fs::is_directory(dir + "/parts")) {
      const SweepDir sd(dir);
      for (const auto& r : ex.runs)
        if (const RunParts c = sd.check_run(r.run_id()); c.state != RunParts::whole)
          problems.push_back(c.state == RunParts::missing ? fmt::format("{}/parts: run {} has no parts", dir, r.run_id())
                                                          : c.problem);
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
  Experiment ex;
  ExperimentOptions eo;
};

// A claim's folder belongs to its id: its experiment may change (the CSVs hold
// the current grid's runs), so the identity compared is the name alone.
StoreIdentity claim_identity(const Claim& c) { return StoreIdentity::grid(StoreKind::claim, c.ex.name); }

// finished: empty while the claim's runs are under way (the folder is claimed
// before its first run, so an interrupted claim resumes into its own store).
std::string claim_manifest(const Claim& c, const std::string& started, bool finished = true) {
  auto m = sweep_manifest(c.ex, c.eo, started, finished ? utc_now() : "");
  m.update(store_fields(StoreIdentity::grid(StoreKind::claim, c.ex.name, c.ex.runs)));
  return m.dump(2);
}

std::vector<std::string> ids_run(const std::vector<Claim>& claims) {
  std::vector<std::string> ids;
  for (const auto& c : claims) ids.push_back(c.rule.id);
  return ids;
}

// --evaluate-only, same grid, rules applied again: the manifest now shows the
// claim file whose rules gave these verdicts.
void refresh_manifest(const std::string& dir, const Experiment& ex) {
  ManifestGrid g = read_manifest_grid(dir + "/manifest.json");
  g.json["experiment"]["text"] = ex.text;
  g.json["rules_reapplied"] = utc_now();
  write_file_atomic(dir + "/manifest.json", g.json.dump(2) + "\n");
}

void run_claims(const ClaimsOptions& o) {
  if (o.profile != "quick" && o.profile != "full")
    throw ConfigError(fmt::format("--profile: '{}' (allowed: quick, full)", o.profile));
  std::vector<std::string> files;
  const std::string claims_dir = o.dir.empty() ? share_file("experiments/claims") : o.dir;
  if (!fs::is_directory(claims_dir)) throw ConfigError(fmt::format("--dir: {} is not a directory", claims_dir));
  for (const auto& e : fs::directory_iterator(claims_dir))
    if (e.path().extension() == ".toml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());

  // Everything is read and checked before anything runs.
  std::vector<Claim> claims;
  std::vector<std::string> ids;
  std::map<std::string, std::string> file_of;  // id -> claim file
  for (const auto& f : files) {
    Claim c;
    c.path = f;
    c.rule = read_claim_rule(f);
    // The id names the claim's folder under --out and its rows of claims.csv.
    check_store_name(f, "id", c.rule.id);
    if (const auto [it, fresh] = file_of.emplace(c.rule.id, f); !fresh)
      throw ConfigError(fmt::format("{}: id: '{}' is the id of {} too; each claim needs its own id (it names the "
                                    "claim's folder and its rows of claims.csv)", f, c.rule.id, it->second));
    ids.push_back(c.rule.id);
    if (o.list) std::printf("%-22s %s\n", c.rule.id.c_str(), f.c_str());
    if (!o.only.empty() && std::find(o.only.begin(), o.only.end(), c.rule.id) == o.only.end()) continue;
    c.eo.profile = o.profile;
    c.ex = load_experiment(f, c.eo);
    c.ex.path = share_relative(f);  // manifests name the suite's file, not this machine's folder
    claims.push_back(std::move(c));
  }
  for (const auto& id : o.only)
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      throw ConfigError(fmt::format("--only: unknown claim '{}' (allowed: {})", id, fmt::join(ids, ", ")));
  if (o.list) return;
  for (const auto& c : claims) validate_runs(c.ex);

  std::vector<ClaimRule> rules;
  for (const auto& c : claims) rules.push_back(c.rule);
  if (!o.baseline.empty()) check_baseline(o.baseline, rules);

  const std::string out = store_path(o.out.empty() ? "results/claims-" + o.profile : o.out);
  check_out_spelling("--out", out);
  const StoreIdentity me = StoreIdentity::claims_of(o.profile);
  guard_store("--out", out, me, false);
  for (const auto& c : claims)
    guard_store("--out", out + "/" + c.rule.id, claim_identity(c), false);
  if (o.evaluate_only)
    for (const auto& c : claims) check_complete(out + "/" + c.rule.id, c.rule, c.ex);
  prepare_out_dir("--out", out);  // before any claim runs
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  SweepOptions so;
  so.faults = test_faults();
  so.warn = [](const std::string& m) { spdlog::warn("{}", m); };
  so.jobs = o.jobs > 0 ? o.jobs : cores;
  so.threads_per_run = std::max(1, cores / so.jobs);
  install_stop_handlers();  // SIGINT/SIGTERM/SIGUSR1: keep complete runs, say how to resume
  so.stop = &stop_requested();
  std::vector<ClaimResult> results;
  int errors = 0;
  for (const auto& c : claims) {
    const std::string dir = out + "/" + c.rule.id;
    const std::string started = utc_now();
    if (c.rule.measure == "step-time") {
      // Timed one configuration at a time: concurrent jobs would time each other.
      // Like a sweep, a complete earlier measurement of the same grid is reused.
      fs::create_directories(dir);
      if (o.evaluate_only) {
        refresh_manifest(dir, c.ex);
      } else if (timings_complete(dir + "/timings.csv", c.ex.runs)) {
        spdlog::info("{}: reusing {}/timings.csv (remove it to time again)", c.rule.id, dir);
      } else {
        spdlog::info("{}: timing {} configurations, one at a time", c.rule.id, c.ex.runs.size());
        TimingOptions topt;
        topt.min_total_s = o.profile == "full" ? 0.5 : 0.2;
        write_file_atomic(dir + "/timings.csv", time_step_configs(c.ex.runs, c.ex.specs, topt));
        write_file_atomic(dir + "/manifest.json", claim_manifest(c, started) + "\n");
      }
      results.push_back(evaluate_claim(c.rule, read_csv(dir + "/timings.csv")));
      spdlog::info("{}: {}", c.rule.id, verdict_text(results.back()));
      if (!o.no_report) render_report(dir);
      continue;
    }
    if (o.evaluate_only) {
      refresh_manifest(dir, c.ex);
    } else {
      const SweepDir sd(dir);
      fs::create_directories(dir);
      write_file_atomic(dir + "/manifest.json", claim_manifest(c, started, false) + "\n");
      const auto sum = run_sweep(c.ex, sd, so, [&](const SweepProgress& p, const std::string&) {
        if (p.done % 10 == 0 || p.done + p.skipped == p.total)
          spdlog::info("{}: {}/{} runs", c.rule.id, p.skipped + p.done, p.total);
      });
      errors += sum.progress.failed;
      if (const int sig = stop_requested().load())
        throw Interrupted(sig, fmt::format(
            "claims: stopped by signal {} in claim {}: {} of its {} runs complete, {} abandoned midway; nothing "
            "partial was kept. Run the same command again to resume (complete runs are skipped).",
            sig, c.rule.id, sum.progress.skipped + sum.progress.done, sum.progress.total, sum.abandoned.size()));
      write_file_atomic(dir + "/manifest.json", claim_manifest(c, started) + "\n");
    }
    const CsvTable curves = read_csv(dir + "/curves.csv"), acts = read_csv(dir + "/activations.csv");
    const CsvTable runs = read_csv(dir + "/runs.csv");
    const CsvTable table = c.rule.file == "runs.csv" ? runs : join_runs(read_csv(dir + "/" + c.rule.file), runs);
    results.push_back(evaluate_claim(c.rule, table, &curves, &acts));
    spdlog::info("{}: {}", c.rule.id, verdict_text(results.back()));
    if (!o.no_report) render_report(dir);
  }
  nlohmann::json top = store_fields(me);
  top["command"] = "claims";
  top["claims"] = ids_run(claims);
  top["finished"] = utc_now();
  write_file_atomic(out + "/manifest.json", top.dump(2) + "\n");
  write_file_atomic(out + "/claims.csv", claims_csv(rules, results));
  write_file_atomic(out + "/claims.md", claims_md(rules, results, o.profile));
  if (!o.no_report) render_report(out);  // forest.png: every cell of every claim
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
  sub->add_option("--only", o->only, "only these claim ids");
  sub->add_option("--out", o->out, "output directory [default: results/claims-<profile>]")->check(kNotEmpty);
  sub->add_option("--baseline", o->baseline, "compare with this claims directory; exit 1 on a change")
      ->check(kExistingDir);
  sub->add_option("--dir", o->dir,
                  "directory of claim experiment files [default: experiments/claims beside the binary: "
                  "<prefix>/share/normlab, the source checkout of a build tree, or $NORMLAB_SHARE_DIR]");
  sub->add_flag("--list", o->list, "print each claim's id and file, then exit (runs nothing, writes nothing)");
  sub->add_option("-j,--jobs", o->jobs, "runs at once [default: the core count]")->check(CLI::Range(1, kMaxThreads));
  sub->add_flag("--no-report", o->no_report, "skip the per-claim figures (scripts/report.py)");
  sub->add_flag("--evaluate-only", o->evaluate_only,
                "apply the rules again to the CSVs already in the output directory; run nothing "
                "(exit 2 unless each claim's CSVs hold exactly its grid's runs)");
  sub->callback([o] { run_claims(*o); });
}

}  // namespace normlab::cmd
