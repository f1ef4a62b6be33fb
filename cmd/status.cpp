// normlab status DIR: the ledger of a sweep directory. Every run of the grid is
//   done       its part is complete with status ok
//   diverged   complete, status diverged (a result)
//   failed     complete, status error (a rerun retries it), with its message
//   preempted  stopped midway by a signal (DIR/ledger/), not yet rerun
//   pending    not run yet, or in flight
// and every shard that has started is running, finished, interrupted, or stale:
// recorded as running but its process is gone (sweep/ledger.h: shard_liveness).
// The grid comes from DIR/slurm/job.json (written by `normlab slurm`) or else
// DIR/manifest.json. For unfinished shards it prints the --array list and the
// `normlab slurm ... --resubmit` command that finishes them. --json: the same,
// machine-readable. Exit 0 whatever the state; 2 for a directory that is not a sweep.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "cmd/subcommands.h"
#include "core/errors.h"
#include "core/read_file.h"
#include "results/csv_table.h"
#include "sweep/experiment.h"
#include "sweep/ledger.h"
#include "sweep/manifest.h"
#include "sweep/slurm_script.h"
#include "sweep/sweep_dir.h"

namespace normlab::cmd {

namespace {

namespace fs = std::filesystem;

struct StatusOptions {
  std::string dir;
  bool json = false;
};

// DIR/slurm/job.json, checked field by field: a damaged file is named, not a
// type_error or a shard count of 0 later.
nlohmann::json read_job_file(const std::string& path) {
  nlohmann::json job = nlohmann::json::parse(read_file_capped(path), nullptr, false);
  auto bad = [&](const std::string& what) {
    throw ConfigError(fmt::format("{}: not a job file written by `normlab slurm` ({})", path, what));
  };
  if (job.is_discarded() || !job.is_object()) bad("not a JSON object");
  if (!job.contains("experiment") || !job["experiment"].is_string()) bad("\"experiment\" must be a path");
  for (const char* k : {"profile", "grid_hash", "out"})
    if (job.contains(k) && !job[k].is_string()) bad(fmt::format("\"{}\" must be a string", k));
  if (job.contains("tasks") && !(job["tasks"].is_number_integer() && job["tasks"].get<long long>() >= 1 &&
                                 job["tasks"].get<long long>() <= 1000000))
    bad("\"tasks\" must be an integer from 1 to 1000000");
  if (job.contains("sets")) {
    if (!job["sets"].is_array()) bad("\"sets\" must be a list of \"key=value\"");
    for (const auto& s : job["sets"])
      if (!s.is_string() || s.get<std::string>().find('=') == std::string::npos) bad("\"sets\" must be a list of \"key=value\"");
  }
  return job;
}

// A folder that is not a sweep (one `train` run, a claims suite's top folder):
// says what it is instead of failing on the missing grid. True when it did.
bool describe_other_store(const std::string& dir, const std::string& manifest_path) {
  const nlohmann::json m = nlohmann::json::parse(read_file_capped(manifest_path), nullptr, false);
  if (!m.is_object()) return false;
  const std::string kind = m.value("kind", m.value("command", ""));
  if (kind == "train") {
    std::printf("%s: the results of one `normlab train` run (run %s), not a sweep; its summary row is in "
                "%s/runs.csv\n", dir.c_str(), m.value("run_id", std::string("?")).c_str(), dir.c_str());
    return true;
  }
  if (kind == "claims") {
    std::printf("%s: a claims suite's results (claims.csv, claims.md); `normlab status %s/ID` shows one claim's "
                "runs\n", dir.c_str(), dir.c_str());
    return true;
  }
  return false;
}

void run_status(const StatusOptions& o) {
  const std::string job_path = o.dir + "/slurm/job.json", manifest_path = o.dir + "/manifest.json";
  nlohmann::json job = nlohmann::json::object();  // empty unless made by `normlab slurm`
  std::vector<RunConfig> runs;
  std::vector<std::string> labels;
  std::string name;
  if (fs::exists(job_path)) {
    job = read_job_file(job_path);
    ExperimentOptions eo;
    eo.profile = job.value("profile", "");
    for (const auto& s : job.value("sets", std::vector<std::string>{}))
      eo.sets.push_back({s.substr(0, s.find('=')), s.substr(s.find('=') + 1)});
    const Experiment ex = load_experiment(job.at("experiment").get<std::string>(), eo);
    if (ex.grid_hash != job.value("grid_hash", ""))
      spdlog::warn("{} now expands to grid {}, the job ran grid {}: the file changed since submission",
                   ex.path, ex.grid_hash, job.value("grid_hash", ""));
    runs = ex.runs;
    labels = run_labels(ex);
    name = ex.name;
  } else if (fs::exists(manifest_path)) {
    if (describe_other_store(o.dir, manifest_path)) return;
    ManifestGrid g = read_manifest_grid(manifest_path);
    runs = std::move(g.runs);
    name = g.name;
    Experiment tmp;
    tmp.runs = runs;
    labels = run_labels(tmp);
  } else if (fs::exists(o.dir + "/claims.csv")) {  // a claims folder from before claims wrote a manifest
    std::printf("%s: a claims suite's results (claims.csv, claims.md); `normlab status %s/ID` shows one claim's "
                "runs\n", o.dir.c_str(), o.dir.c_str());
    return;
  } else {
    throw ConfigError(fmt::format("{}: neither slurm/job.json nor manifest.json; not a sweep directory", o.dir));
  }
  const nlohmann::json ledgers = read_ledgers(o.dir);
  int tasks = job.value("tasks", 0);
  if (tasks == 0) {  // from the shards that ran, when they agree
    std::set<int> counts;
    for (const auto& l : ledgers) counts.insert(std::stoi(l.value("shard", "0/1").substr(l.value("shard", "0/1").find('/') + 1)));
    tasks = counts.size() == 1 ? *counts.begin() : 1;
  }
  std::set<std::string> preempted;
  std::map<int, std::string> shard_state;
  for (const auto& l : ledgers) {  // read_ledgers checked every shard is I/N with N >= 1
    const std::string sh = l.value("shard", "");
    if (std::stoi(sh.substr(sh.find('/') + 1)) == tasks) shard_state[std::stoi(sh)] = shard_liveness(l);
    for (const auto& id : l.value("abandoned", std::vector<std::string>{})) preempted.insert(id);
  }
  std::map<std::string, std::string> messages;  // failed runs' messages, from the assembled runs.csv
  if (fs::exists(o.dir + "/runs.csv")) {
    try {
      const CsvTable t = read_csv(o.dir + "/runs.csv");
      for (std::size_t i = 0; i < t.rows.size(); ++i)
        if (t.at(i, "status") == "error") messages[t.at(i, "run_id")] = t.at(i, "message");
    } catch (const ConfigError&) {
    }
  }
  const bool have_parts = fs::is_directory(o.dir + "/parts");
  std::optional<SweepDir> sd;
  if (have_parts) sd.emplace(o.dir);
  std::map<std::string, int> counts{{"done", 0}, {"diverged", 0}, {"failed", 0}, {"preempted", 0}, {"pending", 0}};
  std::set<int> unfinished;
  nlohmann::json jruns = nlohmann::json::array();
  for (std::size_t g = 0; g < runs.size(); ++g) {
    const std::string id = runs[g].run_id();
    const auto st = sd ? sd->completed_status(id) : std::nullopt;
    std::string state = !st                   ? (preempted.count(id) ? "preempted" : "pending")
                        : *st == "ok"         ? "done"
                        : *st == "diverged"   ? "diverged"
                                              : "failed";
    ++counts[state];
    const int shard = int(g % std::size_t(tasks));
    if (state != "done" && state != "diverged") unfinished.insert(shard);
    jruns.push_back({{"run_id", id}, {"config", labels[g]}, {"shard", shard}, {"state", state},
                     {"message", state == "failed" ? messages[id] : ""}});
  }
  const std::vector<int> todo(unfinished.begin(), unfinished.end());
  std::string resubmit;
  if (!todo.empty() && !job.empty()) {
    resubmit = fmt::format("normlab slurm {} --out {} --resubmit {} --submit", shell_quote(job.value("experiment", "")),
                           shell_quote(job.value("out", o.dir)), index_ranges(todo));
  }
  if (o.json) {
    nlohmann::json shards = nlohmann::json::array();
    for (int i = 0; i < tasks; ++i)
      shards.push_back({{"shard", i}, {"state", shard_state.count(i) ? shard_state[i] : "not started"},
                        {"finished", !unfinished.count(i)}});
    std::printf("%s\n", nlohmann::json{{"dir", o.dir}, {"experiment", name}, {"runs", runs.size()}, {"tasks", tasks},
                                       {"counts", counts}, {"unfinished_shards", todo},
                                       {"array", todo.empty() ? "" : "--array=" + index_ranges(todo)},
                                       {"resubmit", resubmit}, {"shards", shards}, {"run_states", jruns}}
                            .dump(2)
                            .c_str());
    return;
  }
  std::printf("%s: %zu runs in %d shard(s): %d done, %d diverged, %d failed, %d preempted, %d pending\n", name.c_str(),
              runs.size(), tasks, counts["done"], counts["diverged"], counts["failed"], counts["preempted"],
              counts["pending"]);
  int shown = 0;
  for (const auto& r : jruns)
    if (r["state"] != "done" && r["state"] != "diverged" && shown++ < 20)
      std::printf("  %-9s shard %-4d %s (%s)%s\n", r["state"].get<std::string>().c_str(), r["shard"].get<int>(),
                  r["config"].get<std::string>().c_str(), r["run_id"].get<std::string>().c_str(),
                  r["message"].get<std::string>().empty() ? "" : (": " + r["message"].get<std::string>()).c_str());
  if (shown > 20) std::printf("  ... and %d more\n", shown - 20);
  if (todo.empty()) {
    std::printf("every run is complete\n");
    return;
  }
  for (const auto& [i, st] : shard_state)
    if (st == "running" || st == "stale")
      std::printf("  shard %d/%d: %s\n", i, tasks,
                  st == "running" ? "running"
                                  : "stale (recorded as running, but its process is gone: killed, or its host "
                                    "stopped beating; run the sweep again to resume it)");
  std::printf("unfinished shards: --array=%s\n", index_ranges(todo).c_str());
  if (!resubmit.empty()) std::printf("finish them with:\n  %s\n", resubmit.c_str());
}

}  // namespace

void setup_status(CLI::App& app) {
  auto o = std::make_shared<StatusOptions>();
  auto* sub = app.add_subcommand("status", "The ledger of a sweep directory: each run's state, and what to resubmit");
  sub->add_option("dir", o->dir, "sweep directory")->required()->check(kExistingDir);
  sub->add_flag("--json", o->json, "machine-readable output");
  sub->callback([o] { run_status(*o); });
}

}  // namespace normlab::cmd
