// normlab sweep EXPERIMENT.toml: expand the grid, check every run, then run
// them `--jobs` at a time, resuming where an earlier invocation stopped.
// Exit 1 when any run ended in error (the others are still written).
// SIGINT, SIGTERM or SIGUSR1 stop it cleanly (sweep/interrupt.h): complete runs
// are kept, runs in flight are abandoned, exit 128 + the signal.
// Progress (cmd/progress.h): on a terminal one redrawn line that moves within
// runs; elsewhere (CI, log files, Slurm) a log line per finished run and, every
// 30 s, one per run in flight.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <thread>

#include "cmd/progress.h"
#include "cmd/subcommands.h"
#include "cmd/test_faults.h"
#include "core/errors.h"
#include "core/out_path.h"
#include "sweep/grid_change.h"
#include "sweep/interrupt.h"
#include "sweep/ledger.h"
#include "sweep/manifest.h"
#include "sweep/scheduler.h"
#include "sweep/store.h"
#include "results/run_files.h"

namespace normlab::cmd {

namespace {

struct SweepCliOptions {
  std::string experiment;
  std::string out;  // default results/<name>
  int jobs = 0;     // 0: the core count
  int threads = 0;  // threads per run; 0: cores / jobs
  std::string shard;
  std::vector<std::string> sets;
  std::string profile;
  bool dry_run = false, fresh = false, quiet = false, force = false, force_new = false;
};

// This process's Slurm facts for the shard ledger; null outside Slurm.
nlohmann::json slurm_facts() {
  auto env = [](const char* k) {
    const char* v = std::getenv(k);
    return std::string(v ? v : "");
  };
  if (env("SLURM_JOB_ID").empty()) return nullptr;
  const std::string restarts = env("SLURM_RESTART_COUNT");
  return {{"job_id", env("SLURM_JOB_ID")},
          {"array_job_id", env("SLURM_ARRAY_JOB_ID")},
          {"array_task_id", env("SLURM_ARRAY_TASK_ID")},
          {"restart_count", restarts.empty() ? 0 : std::atoi(restarts.c_str())}};
}

ExperimentOptions experiment_options(const SweepCliOptions& o) {
  ExperimentOptions eo;
  eo.profile = o.profile;
  for (const auto& s : o.sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError(fmt::format("--set: '{}' (expected key=value)", s));
    eo.sets.push_back({s.substr(0, eq), s.substr(eq + 1)});
  }
  return eo;
}

// The folder the sweep writes: --out, or with --force-new and a changed fixed key
// a fresh sibling. Refuses (ConfigError) what the sweep would refuse: a misspelt
// --out, a changed fixed key without --force-new, another store's folder. Reads only.
std::string resolve_out(const SweepCliOptions& o, const Experiment& ex, const StoreIdentity& me) {
  std::string out = store_path(o.out.empty() ? "results/" + ex.name : o.out);
  check_out_spelling("--out", out);
  // The same experiment again: growth (new seeds or values) runs only the new
  // runs; a changed fixed key would mix incomparable runs (sweep/grid_change.h).
  if (!o.fresh && !o.force && std::filesystem::exists(out + "/manifest.json")) {
    std::optional<ManifestGrid> held;
    try {
      held = read_manifest_grid(out + "/manifest.json");
    } catch (const ConfigError&) {  // not a sweep's manifest: guard_store names what it is
    }
    const GridChange gc = held && held->name == ex.name ? compare_grids(held->runs, ex.runs) : GridChange{};
    if (!gc.fixed_changed.empty() && !o.force_new)
      throw ConfigError(fmt::format(
          "--out: {} holds experiment '{}' with other fixed settings:\n  {}\nits runs and these would not be "
          "comparable in one directory. Choose another --out, or pass --force-new to start over in a new "
          "directory beside it ({} is kept)", out, ex.name, fmt::join(gc.fixed_changed, "\n  "), out));
    if (!gc.fixed_changed.empty()) {
      std::string fresh_out;
      for (int n = 2; fresh_out.empty() || std::filesystem::exists(fresh_out); ++n) fresh_out = fmt::format("{}-{}", out, n);
      spdlog::info("--force-new: {} keeps the earlier results; starting over in {}", out, fresh_out);
      out = fresh_out;
    } else if (gc.added > 0 && gc.kept > 0) {
      spdlog::info("{}: growing the sweep in {}: {} kept, {} new{}", ex.name, out, gc.kept, gc.added,
                   gc.dropped ? fmt::format(" ({} earlier runs no longer in the grid are left out of the CSVs)", gc.dropped) : "");
    }
  }
  guard_store("--out", out, me, o.force);
  if (!o.fresh) check_same_datasets("--out", out, ex.runs);  // --fresh sets the earlier runs aside
  return out;
}

// --dry-run, after every check the sweep makes before it writes (keys, each run's
// model, --out with --force, --force-new and --fresh as the sweep applies them):
// the runs this shard would run into OUT; writes nothing.
void dry_run(const Experiment& ex, const std::vector<std::size_t>& mine, const std::string& out) {
  // The run's label is the one logs, status and reports show (run_labels);
  // the settings every run shares are named once.
  const std::vector<std::string> labels = run_labels(ex);
  for (std::size_t g : mine) {
    const std::string& id = ex.runs[g].run_id();
    std::printf("%5zu %s%s\n", g, id.c_str(), labels[g] == id ? "" : (" " + labels[g]).c_str());
  }
  spdlog::info("{}: {} runs ({} in this shard), for {}/; every run: {}", ex.name, ex.runs.size(), mine.size(), out,
               shared_settings(ex));
}

void run_sweep_cmd(const SweepCliOptions& o) {
  if (o.quiet) spdlog::set_level(spdlog::level::warn);
  const ExperimentOptions eo = experiment_options(o);
  const Experiment ex = load_experiment(o.experiment, eo);
  SweepOptions so;
  so.faults = test_faults();
  so.warn = [](const std::string& m) { spdlog::warn("{}", m); };
  if (!o.shard.empty()) std::tie(so.shard_index, so.shard_count) = parse_shard(o.shard);
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  so.jobs = o.jobs > 0 ? o.jobs : cores;
  // Each run gets its share of the cores; results do not depend on it.
  so.threads_per_run = o.threads > 0 ? o.threads : std::max(1, cores / so.jobs);
  const auto mine = shard_runs(ex, so.shard_index, so.shard_count);
  if (o.fresh && so.shard_count > 1)
    throw ConfigError(fmt::format("--fresh with --shard {}: moving parts/ aside would drop the runs of the other "
                                  "shards writing there; use --fresh without --shard, or a new --out", o.shard));
  validate_runs(ex);  // exits 2 via ConfigError before any run starts
  const StoreIdentity me = StoreIdentity::grid(StoreKind::sweep, ex.name, ex.runs);
  const std::string out = resolve_out(o, ex, me);
  if (o.dry_run) return dry_run(ex, mine, out);

  ProgressView::log_seconds();  // a bad NORMLAB_PROGRESS_SECONDS exits 2 here
  prepare_out_dir("--out", out);
  const SweepDir dir(out, fault_trust_parts() ? PartChecks::without_checksums : PartChecks::full);
  install_stop_handlers();
  so.stop = &stop_requested();
  // The lock first: --fresh moves parts aside only while no other writer can be in the folder.
  ShardLedger ledger(out, so.shard_index, so.shard_count, slurm_facts());
  if (o.fresh) spdlog::info("--fresh: earlier parts moved to {}", dir.archive_parts());
  spdlog::info("{}: {} runs, {} in this shard; {} jobs x {} threads; writing {}/", ex.name,
               ex.runs.size(), mine.size(), so.jobs, so.threads_per_run, out);
  const bool bar = isatty(STDERR_FILENO) && std::getenv("CI") == nullptr && !o.quiet;
  const std::string started = utc_now();
  // Written first too (finished empty), so `normlab status` can read the grid mid-sweep.
  auto manifest = sweep_manifest(ex, eo, started, "");
  // Shards that start at once each pass check_same_datasets before either has written
  // the manifest: each records its data in its ledger record, then compares.
  if (so.shard_count > 1) ledger.record_data(recorded_checksums(manifest));
  manifest.update(store_fields(me));
  manifest["shards"] = read_ledgers(out);
  write_file_atomic(out + "/manifest.json", manifest.dump(2) + "\n");
  SweepLive live(so.jobs);
  so.live = &live;
  SweepSummary summary;
  {
    ProgressView view(bar ? ProgressView::Mode::bar : ProgressView::Mode::lines, live, run_labels(ex));
    summary = run_sweep(ex, dir, so, [&](const SweepProgress& p, const std::string& line) {
      view.update(p);
      if (!bar)
        spdlog::info("[{}/{}] {}  (running {}, failed {}, diverged {}, eta {:.0f}s)", p.skipped + p.done,
                     p.total, line, p.running, p.failed, p.diverged, p.eta_s);
      else if (line.find(" error ") != std::string::npos)  // failures stay on screen
        view.above([&] { spdlog::warn("{}", line); });
    });
  }
  const int signal = stop_requested().load();
  ledger.finish(signal, summary.abandoned);
  manifest = sweep_manifest(ex, eo, started, signal ? "" : utc_now());
  manifest.update(store_fields(me));
  manifest["shards"] = read_ledgers(out);
  // Checksums only of a whole grid's tables: shards assemble concurrently, and every
  // shard that sees all parts assembles the same bytes.
  if (!signal && summary.assembled == int(ex.runs.size())) manifest["files"] = result_checksums(out);
  write_file_atomic(out + "/manifest.json", manifest.dump(2) + "\n");
  if (signal) {
    const auto& p = summary.progress;
    throw Interrupted(signal, fmt::format(
        "{}: stopped by signal {}: {} of this shard's {} runs complete, {} abandoned midway, {} not started; "
        "nothing partial was kept. Run the same command again to resume.",
        ex.name, signal, p.skipped + p.done, p.total, summary.abandoned.size(), summary.not_started));
  }
  const auto& p = summary.progress;
  spdlog::info("{}: ran {}, skipped {} complete, {} diverged, {} errors; {} of {} runs in {}/runs.csv "
               "({:.1f}s)", ex.name, p.done, p.skipped, p.diverged, p.failed, summary.assembled,
               ex.runs.size(), out, p.elapsed_s);
  if (p.failed > 0)
    throw std::runtime_error(fmt::format("{} run(s) ended in error; see the message column of "
                                         "{}/runs.csv (a rerun retries them)", p.failed, out));
}

}  // namespace

void setup_sweep(CLI::App& app) {
  auto o = std::make_shared<SweepCliOptions>();
  auto* sub = app.add_subcommand("sweep", "Run an experiment file's grid of runs (parallel, resumable, shardable)");
  sub->add_option("experiment", o->experiment, "experiment TOML file")->required()->check(kExistingFile);
  sub->add_option("--out", o->out, "sweep directory [default: results/<experiment name>]")->check(kNotEmpty);
  sub->add_option("-j,--jobs", o->jobs, "runs at once [default: the core count]")->check(CLI::Range(1, kMaxThreads));
  sub->add_option("--threads", o->threads, "threads per run (results do not depend on it) [default: cores / jobs]")->check(CLI::Range(1, kMaxThreads));
  sub->add_option("--shard", o->shard, "run the i-th of n deterministic parts of the grid, as i/n");
  sub->add_option("--set", o->sets, "override a key: --set lr=0.1 (repeatable, once per key)");
  sub->add_option("--profile", o->profile, "apply the file's [profile.NAME] table (e.g. quick, full)");
  auto* dry = sub->add_flag("--dry-run", o->dry_run,
                            "list the runs this shard would run, after the checks a sweep makes before it writes "
                            "(keys, each run's model, --out), and exit; writes nothing");
  sub->add_flag("--fresh", o->fresh, "rerun everything (earlier parts are moved aside, not deleted)");
  sub->add_flag("--force-new", o->force_new,
                "when a fixed key (model, steps, dataset ...) changed against --out's runs, start over in "
                "--out-2 (or the next free name) instead of refusing");
  sub->add_flag("--force", o->force, "write into --out even when it holds another experiment's or a train run's results");
  sub->add_flag("-q,--quiet", o->quiet, "warnings and errors only");
  // A dry run runs nothing: --jobs and --threads, which only change how runs run,
  // are refused with it (exit 2), not dropped.
  for (const char* name : {"--jobs", "--threads"}) dry->excludes(sub->get_option(name));
  sub->callback([o] { run_sweep_cmd(*o); });
}

}  // namespace normlab::cmd
