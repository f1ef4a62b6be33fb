#pragma once
// Slurm batch scripts for a sweep (`normlab slurm`). The grid is split into
// `tasks` shards; shard i runs `normlab sweep EXP --shard i/tasks` into the
// shared output directory. Array task ids are shard indices minus an offset,
// so a shard list spanning more than max_array_size ids (Slurm's MaxArraySize,
// default 1001: ids 0..1000) becomes several arrays, each with its own offset.
//
// Each array task:
//   - logs to DIR/slurm/logs/%A_%a.log with --open-mode=append (a requeue
//     would otherwise truncate its log);
//   - asks for USR1 `signal_s` seconds before its time limit (--signal=B:USR1@s,
//     delivered to the batch shell) and traps USR1 and TERM: it forwards TERM to
//     normlab, which abandons its runs in flight (nothing partial is kept) and
//     records the interruption in DIR/ledger/; then the task requeues only itself
//     (scontrol requeue ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}) and exits;
//     the rerun skips the runs already complete.
// The merge job (--dependency=afterok on every array) runs `normlab merge DIR
// --out DIR`, which assembles the CSVs and manifest and exits 1 naming missing
// runs, then renders the report.
#include <string>
#include <vector>

#include "core/shell_quote.h"

namespace normlab {

struct SlurmJob {
  std::string normlab;      // absolute path of the binary
  std::string experiment;   // absolute path of the experiment file
  std::string out;          // absolute output directory
  std::string workdir;      // the tasks' working directory (--chdir): where `normlab slurm` ran
  std::string name;         // experiment name (job names)
  std::string profile;      // --profile, "" for none
  std::vector<std::string> sets;  // --set key=value
  int tasks = 1;            // shards of the grid
  int jobs = 1;             // runs at once within a task (--jobs)
  int cpus = 1;             // --cpus-per-task
  int parallelism = 0;      // --array=...%K; 0: no limit
  int max_array_size = 1001;
  int signal_s = 120;       // USR1 this long before the time limit
  std::string time, partition, account;
  std::vector<std::string> sbatch_args;  // extra #SBATCH lines, as given
  std::string report_script;  // absolute path of scripts/report.py; "" to skip the report
};

struct SlurmArray {
  int offset = 0;             // shard = SLURM_ARRAY_TASK_ID + offset
  std::string array_spec;     // "0-1000" or "2,5,7" (without the %K limit)
  std::string script;         // the batch script text
};

// Refuses (ConfigError naming the option, exit 2) every value that could not
// be written into a script as exactly itself:
//   - any control character (newline, CR, NUL, tab, ESC ...) in any value or
//     path: the experiment path, --out, --profile, --set, --time, --partition,
//     --account, --sbatch-arg, the working directory and the binary's path;
//   - in #SBATCH lines, which sbatch reads with its own rules (not the shell's:
//     " quotes, \ escapes, # starts a comment): --partition and --account other
//     than letters, digits and . _ , -; --time not in a Slurm time format
//     (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, UNLIMITED); --sbatch-arg
//     not starting with '-' or holding " ' \ #; a path (--out, the working
//     directory) holding " \ or % (a file-name pattern in --output);
//   - --jobs or --cpus-per-task / --jobs outside the 1 to kMaxThreads the array
//     tasks' `normlab sweep --jobs/--threads` accept.
// Call it before writing anything. Paths in #SBATCH lines are then written in
// double quotes, and every value in the shell part is single-quoted (shell_quote).
void check_slurm_job(const SlurmJob& job);

// One array script per block of max_array_size shard ids among `shards`
// (sorted, distinct, each in [0, tasks)).
std::vector<SlurmArray> slurm_arrays(const SlurmJob& job, const std::vector<int>& shards);

// The merge job's batch script.
std::string slurm_merge_script(const SlurmJob& job);

// Compact ranges: {0,1,2,5,7,8} -> "0-2,5,7-8".
std::string index_ranges(const std::vector<int>& sorted);

}  // namespace normlab
