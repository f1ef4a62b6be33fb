// Slurm batch script text (behaviour documented in slurm_script.h).
#include "sweep/slurm_script.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <regex>

#include "core/errors.h"
#include "core/parse_number.h"
#include "train/key_schema.h"

namespace normlab {

std::string index_ranges(const std::vector<int>& v) {
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + (j > i ? fmt::format("{}-{}", v[i], v[j]) : std::to_string(v[i]));
    i = j + 1;
  }
  return out;
}

namespace {
void refuse_chars(const std::string& value, const std::string& what, const std::string& bad, const std::string& why) {
  const auto at = value.find_first_of(bad);
  if (at != std::string::npos)
    throw ConfigError(fmt::format("{}: '{}' holds '{}', which {}", what, value, value[at], why));
}

void check_name(const std::string& value, const std::string& what) {
  const bool ok = std::all_of(value.begin(), value.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ',' || c == '-';
  });
  if (!ok || value[0] == '-')
    throw ConfigError(fmt::format("{}: '{}' (allowed: letters, digits, '.', '_', '-' and ',' for a list, not "
                                  "starting with '-')", what, value));
}

// A path written into an #SBATCH line: in double quotes when it holds a space or
// '#' (sbatch splits its arguments at spaces and ends them at '#').
std::string sbatch_path(const std::string& p) {
  return p.find_first_of(" #") == std::string::npos ? p : "\"" + p + "\"";
}
}  // namespace

void check_slurm_job(const SlurmJob& job) {
  const std::vector<std::pair<std::string, const std::string*>> values = {
      {"experiment", &job.experiment}, {"--out", &job.out}, {"--profile", &job.profile}, {"--time", &job.time},
      {"--partition", &job.partition}, {"--account", &job.account},
      {"the working directory", &job.workdir}, {"the normlab binary's path", &job.normlab},
      {"scripts/report.py's path", &job.report_script}};
  for (const auto& [what, v] : values) refuse_control_chars(*v, what);
  for (const auto& s : job.sets) refuse_control_chars(s, "--set");
  for (const auto& a : job.sbatch_args) refuse_control_chars(a, "--sbatch-arg");
  const std::string sbatch_why = "sbatch would misread in an #SBATCH line";
  for (const auto& [what, v] : {std::pair{"--out", &job.out}, std::pair{"the working directory", &job.workdir}})
    refuse_chars(*v, what, "\"\\%", sbatch_why + " (\" and \\ are quoting, % a file-name pattern)");
  if (!job.partition.empty()) check_name(job.partition, "--partition");
  if (!job.account.empty()) check_name(job.account, "--account");
  static const std::regex time_format(R"((\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2}|UNLIMITED|INFINITE))", std::regex::icase);
  if (!job.time.empty() && !std::regex_match(job.time, time_format))
    throw ConfigError(fmt::format("--time: '{}' is not a Slurm time format (allowed: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or "
                                  "UNLIMITED, e.g. 01:30:00)", job.time));
  for (const auto& a : job.sbatch_args) {
    if (a.empty() || a[0] != '-')
      throw ConfigError(fmt::format("--sbatch-arg: '{}' (allowed: one sbatch option, starting with '-', e.g. "
                                    "--sbatch-arg=--mem=4G)", a));
    refuse_chars(a, "--sbatch-arg", "\"'\\# ", sbatch_why + " (quoting, the start of a comment, or a space "
                 "splitting it in two: write --sbatch-arg=--mem=4G)");
  }
  if (job.jobs < 1 || job.jobs > kMaxThreads)
    throw ConfigError(fmt::format("--jobs: {} (allowed: 1 to {}, what `normlab sweep --jobs` accepts)", job.jobs,
                                  kMaxThreads));
  if (job.cpus < 1 || job.cpus / job.jobs > kMaxThreads)
    throw ConfigError(fmt::format("--cpus-per-task: {} gives each of the task's --jobs {} runs {} threads, more "
                                  "than `normlab sweep --threads` accepts (allowed: 1 to {} cores per run, so "
                                  "--cpus-per-task up to {})", job.cpus, job.jobs, job.cpus / std::max(1, job.jobs),
                                  kMaxThreads, kMaxThreads * job.jobs + job.jobs - 1));
}

namespace {
std::string common_headers(const SlurmJob& job) {
  std::string h = "#SBATCH --chdir=" + sbatch_path(job.workdir) + "\n";
  if (!job.time.empty()) h += "#SBATCH --time=" + job.time + "\n";
  if (!job.partition.empty()) h += "#SBATCH --partition=" + job.partition + "\n";
  if (!job.account.empty()) h += "#SBATCH --account=" + job.account + "\n";
  for (const auto& a : job.sbatch_args) h += "#SBATCH " + a + "\n";
  return h;
}

std::string sweep_command(const SlurmJob& job) {
  std::string c = fmt::format("{} sweep {} --out {} --shard \"$shard/{}\" --jobs {} --threads {}",
                              shell_quote(job.normlab), shell_quote(job.experiment), shell_quote(job.out),
                              job.tasks, job.jobs, std::max(1, job.cpus / job.jobs));
  if (!job.profile.empty()) c += " --profile " + shell_quote(job.profile);
  for (const auto& s : job.sets) c += " --set " + shell_quote(s);
  return c;
}
}  // namespace

std::vector<SlurmArray> slurm_arrays(const SlurmJob& job, const std::vector<int>& shards) {
  std::map<int, std::vector<int>> blocks;  // offset -> task ids
  for (int s : shards) blocks[s / job.max_array_size * job.max_array_size].push_back(s % job.max_array_size);
  std::vector<SlurmArray> out;
  for (const auto& [offset, ids] : blocks) {
    SlurmArray a;
    a.offset = offset;
    a.array_spec = index_ranges(ids);
    const std::string limit = job.parallelism > 0 ? fmt::format("%{}", job.parallelism) : "";
    a.script = fmt::format(
        "#!/bin/bash\n"
        "#SBATCH --job-name=normlab-{name}\n"
        "#SBATCH --array={spec}{limit}\n"
        "#SBATCH --cpus-per-task={cpus}\n"
        "#SBATCH --output={logs_a}\n"
        "#SBATCH --open-mode=append\n"
        "#SBATCH --signal=B:USR1@{signal_s}\n"
        "#SBATCH --requeue\n"
        "{headers}"
        "# Shard SLURM_ARRAY_TASK_ID + {offset} of {tasks} of {exp}.\n"
        "# USR1 (the early warning before the time limit, or a preemption) or TERM:\n"
        "# normlab gets TERM, abandons its runs in flight (nothing partial is kept) and\n"
        "# records the interruption; this task then requeues only itself. The rerun\n"
        "# skips every run already complete.\n"
        "set -u\n"
        "shard=$((SLURM_ARRAY_TASK_ID + {offset}))\n"
        "echo \"normlab shard $shard/{tasks}: start $(date -u +%FT%TZ) on $(hostname), restart ${{SLURM_RESTART_COUNT:-0}}\"\n"
        "requeue() {{\n"
        "  trap '' USR1 TERM\n"
        "  echo \"normlab shard $shard/{tasks}: signal received $(date -u +%FT%TZ); stopping and requeueing\"\n"
        "  kill -TERM \"$child\" 2>/dev/null\n"
        "  wait \"$child\"\n"
        "  scontrol requeue \"${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}\"\n"
        "  exit 0\n"
        "}}\n"
        "trap requeue USR1 TERM\n"
        "{command} &\n"
        "child=$!\n"
        "wait \"$child\"\n"
        "status=$?\n"
        "echo \"normlab shard $shard/{tasks}: exit $status $(date -u +%FT%TZ)\"\n"
        "exit $status\n",
        fmt::arg("name", job.name), fmt::arg("spec", a.array_spec), fmt::arg("limit", limit),
        fmt::arg("cpus", job.cpus), fmt::arg("logs_a", sbatch_path(job.out + "/slurm/logs/%A_%a.log")), fmt::arg("signal_s", job.signal_s),
        fmt::arg("headers", common_headers(job)), fmt::arg("offset", offset), fmt::arg("tasks", job.tasks),
        fmt::arg("exp", job.experiment), fmt::arg("command", sweep_command(job)));
    out.push_back(std::move(a));
  }
  return out;
}

std::string slurm_merge_script(const SlurmJob& job) {
  std::string report;
  if (!job.report_script.empty())
    report = fmt::format("/usr/bin/python3 {} --html {} || echo \"normlab merge: the report failed; the CSVs are complete\"\n",
                         shell_quote(job.report_script), shell_quote(job.out));
  return fmt::format(
      "#!/bin/bash\n"
      "#SBATCH --job-name=normlab-{name}-merge\n"
      "#SBATCH --cpus-per-task=1\n"
      "#SBATCH --output={logs_m}\n"
      "#SBATCH --open-mode=append\n"
      "{headers}"
      "# After every array task succeeded (--dependency=afterok): assemble the CSVs\n"
      "# and the manifest from the shards' parts (exit 1 naming any missing run),\n"
      "# then render the report.\n"
      "set -eu\n"
      "{normlab} merge {out} --out {out}\n"
      "{report}",
      fmt::arg("name", job.name), fmt::arg("logs_m", sbatch_path(job.out + "/slurm/logs/merge_%j.log")),
      fmt::arg("headers", common_headers(job)),
      fmt::arg("normlab", shell_quote(job.normlab)), fmt::arg("out", shell_quote(job.out)), fmt::arg("report", report));
}

}  // namespace normlab
