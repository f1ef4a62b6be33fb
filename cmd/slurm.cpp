// normlab slurm EXPERIMENT.toml: write (and with --submit, submit) a Slurm job
// array that runs the sweep in shards into one output directory, plus a merge
// job that depends on it (script behaviour in sweep/slurm_script.h).
//   DIR/slurm/job.json           what was asked: experiment, profile, sets, tasks,
//                                grid hash (read by `normlab status`)
//   DIR/slurm/array-OFFSET.sbatch, merge.sbatch, logs/
//   DIR/slurm/submissions.jsonl  one line per submission: time, shards, job ids
// --resubmit LIST writes and submits arrays for only those shards (the list
// `normlab status` prints), with the job's recorded settings.
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>

#include "cmd/subcommands.h"
#include "core/errors.h"
#include "core/parse_number.h"
#include "core/read_file.h"
#include "core/share_dir.h"
#include "results/run_files.h"
#include "sweep/experiment.h"
#include "sweep/scheduler.h"
#include "sweep/slurm_script.h"
#include "sweep/manifest.h"
#include "sweep/store.h"

namespace normlab::cmd {

namespace {

namespace fs = std::filesystem;

struct SlurmOptions {
  std::string experiment, out, profile, time, partition, account, resubmit;
  std::vector<std::string> sets, sbatch_args;
  int tasks = 0, parallelism = 0, jobs = 1, cpus = 0, signal_s = 120, max_array_size = 1001;
  bool submit = false, no_report = false;
};

// "2,5,7-9" -> {2,5,7,8,9}, each in [0, tasks).
std::vector<int> parse_shard_list(const std::string& s, int tasks) {
  std::vector<int> out;
  auto bad = [&] {
    return ConfigError(fmt::format("--resubmit: '{}' (allowed: shard indices in 0..{}, as a list like 2,5,7-9)",
                                   s, tasks - 1));
  };
  std::size_t pos = 0;
  while (pos <= s.size()) {
    const std::size_t comma = std::min(s.find(',', pos), s.size());
    const std::string item = s.substr(pos, comma - pos);
    const std::size_t dash = item.find('-');
    try {  // each index whole: "0-1x" is refused, not read as 0-1
      const int a = int(parse_integer(item.substr(0, dash), 0, tasks - 1, "--resubmit"));
      const int b = dash == std::string::npos ? a : int(parse_integer(item.substr(dash + 1), a, tasks - 1, "--resubmit"));
      for (int i = a; i <= b; ++i) out.push_back(i);
    } catch (const ConfigError&) {
      throw bad();
    }
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// Runs `sbatch --parsable ARGS FILE`; returns the job id. Throws when sbatch fails.
std::string sbatch(const std::string& args, const std::string& file) {
  const std::string cmd = "sbatch --parsable " + args + " " + shell_quote(file) + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run sbatch");
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  const int rc = pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (rc != 0) throw std::runtime_error(fmt::format("sbatch {} failed: {}", file, out));
  return out.substr(0, out.find(';'));  // "id;cluster" on multi-cluster setups
}

// --out as the sweep will find it, checked before any script is written into it (not on
// the cluster, after the tasks were queued): the sweep's store guard and data check, and
// no job file of another grid at JOB_FILE (its scripts would be replaced; "" for --resubmit,
// whose job file is this job's).
void check_slurm_out(const std::string& out, const std::string& job_file, const Experiment& ex) {
  guard_store("--out", out, StoreIdentity::grid(StoreKind::sweep, ex.name, ex.runs), false, false);
  check_same_datasets("--out", out, ex.runs);
  std::error_code ec;
  if (job_file.empty() || !std::filesystem::exists(job_file, ec)) return;
  const auto other = nlohmann::json::parse(read_file_capped(job_file), nullptr, false);
  const std::string grid = other.is_object() && other.contains("grid_hash") && other["grid_hash"].is_string()
                               ? other["grid_hash"].get<std::string>() : "";
  if (grid != ex.grid_hash)
    throw ConfigError(fmt::format("--out: {} is the job of another grid ({}; this one is {}): its scripts would be "
                                  "replaced. Give another --out, or --resubmit its shards", job_file,
                                  grid.empty() ? "unreadable" : grid, ex.grid_hash));
}

void run_slurm(SlurmOptions o) {
  // Before anything reads them (a message would print them): no value holds a control character.
  for (const auto& [what, v] : {std::pair{"experiment", &o.experiment}, std::pair{"--out", &o.out},
                                std::pair{"--profile", &o.profile}, std::pair{"--time", &o.time},
                                std::pair{"--partition", &o.partition}, std::pair{"--account", &o.account}})
    refuse_control_chars(*v, what);
  for (const auto& s : o.sets) refuse_control_chars(s, "--set");
  for (const auto& a : o.sbatch_args) refuse_control_chars(a, "--sbatch-arg");
  const std::string job_file_rel = "/slurm/job.json";
  nlohmann::json recorded;
  if (!o.resubmit.empty()) {  // the job's recorded settings, unless given again
    if (o.out.empty()) throw ConfigError("--resubmit needs --out DIR (the sweep directory of the job)");
    std::error_code ec;
    if (!std::filesystem::exists(o.out + job_file_rel, ec))
      throw ConfigError(fmt::format("--resubmit: {}{} not found (was the job made by `normlab slurm`?)", o.out,
                                    job_file_rel));
    recorded = nlohmann::json::parse(read_file_capped(o.out + job_file_rel), nullptr, false);
    if (recorded.is_discarded()) throw ConfigError(fmt::format("{}{}: not valid JSON", o.out, job_file_rel));
    try {  // a field of another type is the file's fault, named as such (not a library's type_error)
      if (o.tasks == 0) o.tasks = recorded.value("tasks", 0);
      if (o.profile.empty()) o.profile = recorded.value("profile", "");
      if (o.sets.empty()) o.sets = recorded.value("sets", std::vector<std::string>{});
      recorded.value("grid_hash", "");
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError(fmt::format("{}{}: not a job file of `normlab slurm` ({})", o.out, job_file_rel, e.what()));
    }
  }
  ExperimentOptions eo;
  eo.profile = o.profile;
  for (const auto& s : o.sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos || eq == 0) throw ConfigError(fmt::format("--set: '{}' (expected key=value)", s));
    eo.sets.push_back({s.substr(0, eq), s.substr(eq + 1)});
  }
  const Experiment ex = load_experiment(o.experiment, eo);
  validate_runs(ex);  // bad input exits 2 here, not on the cluster
  if (o.tasks == 0) o.tasks = int(std::min<std::size_t>(ex.runs.size(), 100));
  if (o.tasks < 1 || std::size_t(o.tasks) > ex.runs.size())
    throw ConfigError(fmt::format("--tasks: {} (allowed: 1 to the grid's {} runs)", o.tasks, ex.runs.size()));
  if (!recorded.is_null() && recorded.value("grid_hash", "") != ex.grid_hash)
    throw ConfigError(fmt::format("--resubmit: {} now expands to grid {}, the job in {} ran grid {}; "
                                  "submit it anew (without --resubmit) into another --out",
                                  o.experiment, ex.grid_hash, o.out, recorded.value("grid_hash", "")));

  SlurmJob job;
  job.normlab = fs::canonical("/proc/self/exe").string();
  job.experiment = fs::absolute(o.experiment).lexically_normal().string();
  job.out = fs::absolute(o.out.empty() ? "results/" + ex.name : o.out).lexically_normal().string();
  job.workdir = fs::current_path().string();
  job.name = ex.name;
  job.profile = o.profile;
  job.sets = o.sets;
  job.tasks = o.tasks;
  job.jobs = o.jobs;
  job.cpus = o.cpus > 0 ? o.cpus : o.jobs;
  job.parallelism = o.parallelism;
  job.max_array_size = o.max_array_size;
  job.signal_s = o.signal_s;
  job.time = o.time, job.partition = o.partition, job.account = o.account;
  job.sbatch_args = o.sbatch_args;
  if (!o.no_report) {
    try {
      job.report_script = fs::absolute(share_file("scripts/report.py")).lexically_normal().string();
    } catch (const ConfigError& e) {
      spdlog::warn("the merge job renders no report: {}", e.what());
    }
  }

  std::vector<int> shards;
  if (o.resubmit.empty())
    for (int i = 0; i < o.tasks; ++i) shards.push_back(i);
  else
    shards = parse_shard_list(o.resubmit, o.tasks);

  check_slurm_job(job);  // nothing written yet: exit 2 here, not on the cluster
  check_slurm_out(job.out, recorded.is_null() ? job.out + job_file_rel : "", ex);
  const std::string sd = job.out + "/slurm";
  fs::create_directories(sd + "/logs");
  if (recorded.is_null())
    write_file_atomic(sd + "/job.json",
                      nlohmann::json{{"experiment", job.experiment}, {"name", ex.name}, {"profile", o.profile},
                                     {"sets", o.sets}, {"tasks", o.tasks}, {"runs", ex.runs.size()},
                                     {"grid_hash", ex.grid_hash}, {"normlab", job.normlab}, {"out", job.out},
                                     {"created", utc_now()}}
                              .dump(2) + "\n");
  const auto arrays = slurm_arrays(job, shards);
  std::vector<std::string> files;
  for (const auto& a : arrays) {
    files.push_back(fmt::format("{}/array-{}{}.sbatch", sd, a.offset, o.resubmit.empty() ? "" : "-resubmit"));
    write_file_atomic(files.back(), a.script);
  }
  write_file_atomic(sd + "/merge.sbatch", slurm_merge_script(job));
  spdlog::info("{}: {} runs in {} shards ({} array script(s) for shards {}); writing {}/", ex.name, ex.runs.size(),
               o.tasks, arrays.size(), index_ranges(shards), job.out);
  if (!o.submit) {
    std::string ids;
    for (const auto& f : files) {
      std::printf("sbatch --parsable %s\n", shell_quote(f).c_str());
      ids += (ids.empty() ? "" : ":") + std::string("<id of ") + fs::path(f).filename().string() + ">";
    }
    std::printf("sbatch --dependency=afterok:%s %s\n", ids.c_str(), shell_quote(sd + "/merge.sbatch").c_str());
    spdlog::info("scripts written; submit them as above, or rerun with --submit");
    return;
  }
  std::vector<std::string> jobs;
  std::string dep;
  for (const auto& f : files) {
    jobs.push_back(sbatch("", f));
    dep += ":" + jobs.back();
  }
  const std::string merge_id = sbatch("--dependency=afterok" + dep, sd + "/merge.sbatch");
  // Appended by a rename (write_file_atomic), never written through a symlink.
  const std::string log = sd + "/submissions.jsonl";
  std::error_code ec;
  const auto kind = fs::symlink_status(log, ec).type();
  const std::string before = kind == fs::file_type::regular ? read_file_capped(log) : std::string();
  if (kind != fs::file_type::regular && kind != fs::file_type::not_found)
    throw std::runtime_error(fmt::format("{} is not a file of its own (a symlink?); the jobs {} are submitted, "
                                         "their ids not recorded there", log, fmt::join(jobs, ", ")));
  write_file_atomic(log, before + nlohmann::json{{"submitted", utc_now()}, {"shards", index_ranges(shards)},
                                                 {"arrays", jobs}, {"merge", merge_id}}.dump() + "\n");
  std::printf("arrays %s\nmerge %s\n", fmt::format("{}", fmt::join(jobs, " ")).c_str(), merge_id.c_str());
  spdlog::info("submitted: array job(s) {}, merge job {} (afterok); `normlab status {}` shows progress",
               fmt::join(jobs, ", "), merge_id, job.out);
}

}  // namespace

void setup_slurm(CLI::App& app) {
  auto o = std::make_shared<SlurmOptions>();
  auto* sub = app.add_subcommand("slurm", "Write (and submit) a Slurm job array for a sweep, with a merge job");
  sub->add_option("experiment", o->experiment, "experiment TOML file")->required()->check(CLI::ExistingFile);
  sub->add_option("--out", o->out, "shared sweep directory [default: results/<experiment name>]");
  // Integers: CLI11 parses the whole text; each range is what the tasks accept.
  sub->add_option("--tasks", o->tasks, "array tasks (shards of the grid) [default: min(runs, 100)]")
      ->check(CLI::Range(1, int(kMaxInt)));
  sub->add_option("--array-parallelism", o->parallelism, "at most this many tasks at once (--array=...%K)")
      ->check(CLI::Range(1, int(kMaxInt)));
  sub->add_option("-j,--jobs", o->jobs, "runs at once within a task")->capture_default_str()
      ->check(CLI::Range(1, kMaxThreads));
  sub->add_option("--cpus-per-task", o->cpus, "cores per task [default: --jobs]; each run gets cpus / jobs threads")
      ->check(CLI::Range(1, int(kMaxInt)));
  sub->add_option("--time", o->time, "time limit per task (sbatch --time)");
  sub->add_option("--partition", o->partition, "sbatch --partition");
  sub->add_option("--account", o->account, "sbatch --account");
  sub->add_option("--sbatch-arg", o->sbatch_args, "an extra #SBATCH line, e.g. --sbatch-arg=--mem=4G (repeatable)");
  sub->add_option("--signal-seconds", o->signal_s, "USR1 this many seconds before the time limit")->capture_default_str()
      ->check(CLI::Range(1, 65535));  // sbatch --signal's limit
  sub->add_option("--max-array-size", o->max_array_size, "the cluster's MaxArraySize: larger arrays are split")
      ->capture_default_str()->check(CLI::Range(1, 4000001));  // Slurm's largest MaxArraySize
  sub->add_option("--profile", o->profile, "apply the file's [profile.NAME] table");
  sub->add_option("--set", o->sets, "override a key: --set lr=0.1 (repeatable, once per key)");
  sub->add_option("--resubmit", o->resubmit, "only these shards (as `normlab status` lists them), with the job's settings");
  sub->add_flag("--submit", o->submit, "submit with sbatch (otherwise only write the scripts)");
  sub->add_flag("--no-report", o->no_report, "the merge job skips the report");
  sub->callback([o] { run_slurm(*o); });
}

}  // namespace normlab::cmd
