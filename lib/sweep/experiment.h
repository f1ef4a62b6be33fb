#pragma once
// Experiment files: a TOML table of run keys where any key may hold a list;
// the runs are the Cartesian product of the lists, times the seeds.
//
//   name = "lr-norm"                  # default: the file's stem
//   description = "..."
//   seeds = [0, 1, 2]                 # or a count: seeds = 3 means 0, 1, 2
//   dataset = "mnist"
//   norm = ["none", "batch", "layer", "group"]
//   lr = [0.01, 0.1, 1.0]             # multi-line lists and comments are fine
//   lr_scale_with_batch = true        # lr is for lr_reference_batch; each run
//   lr_reference_batch = 32           #   uses lr * batch-size / lr_reference_batch
//   [[exclude]]                       # drop combinations matching every key given
//   norm = "none"
//   lr = 1.0
//   [[include]]                       # add combinations (other list keys still expand)
//   norm = "batch"
//   lr = 3.0
//   [random]                          # random search instead of a grid for these keys:
//   samples = 20                      #   20 draws, each crossed with the remaining lists
//   seed = 0
//   weight_decay = { log_uniform = [1e-5, 1e-3] }  # or { uniform = [a, b] }; a drawn key
//                                     #   is given nowhere else in the file (--set wins over it)
//   [profile.quick]                   # `--profile quick` applies these keys on top
//   epochs = 1
//   [rule]                            # free-form; read by the claims suite, not here
//   [[amendment]]                     # likewise (claims/registration.h)
//
// A grid larger than ExperimentOptions::max_runs, or by default NORMLAB_MAX_RUNS
// (seeds and random.samples included), is a ConfigError, reported before any expansion.
// Every problem in the file (unknown key, wrong type, empty list, a value no
// run accepts) is collected and reported together as FILE:LINE:COL: key: ...
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "train/run_config.h"

namespace normlab {

struct Experiment {
  std::string name;
  std::string path;
  std::string text;         // the file as given
  std::string profile;      // applied profile, "" for none
  std::vector<RunConfig> runs;  // in grid order: the order of every output file
  std::vector<TrainSpec> specs; // runs[i] resolved, once, when the file is loaded
  // sha256 over the canonical configs of all runs: shards and resumes of the
  // same experiment agree on it.
  std::string grid_hash;
};

struct ExperimentOptions {
  std::string profile;                                     // "" = none
  std::vector<std::pair<std::string, std::string>> sets;   // --set key=value, applied last
  // More runs than this is a typo (seeds = 100000000), not a sweep; expanding
  // it would exhaust memory first. 0: the NORMLAB_MAX_RUNS limit (core/limits.h).
  int64_t max_runs = 0;
};

// Parses and expands; throws ConfigError listing every problem.
Experiment load_experiment(const std::string& path, const ExperimentOptions& opt = {});
// The same for text already in memory (load_experiment reads the file, then
// calls this): path names it in messages and gives the default name.
Experiment parse_experiment(const std::string& text, const std::string& path,
                            const ExperimentOptions& opt = {});

// Appends the runs `ex` does not hold yet (by run id), resolved, after its grid, and
// recomputes grid_hash over all runs as load_experiment does. `claims --until-decided`
// adds seeds this way. Throws ConfigError if a run does not resolve.
void add_runs(Experiment& ex, const std::vector<RunConfig>& more);

// Each run (grid order) named by the identity keys that vary over the grid:
// "norm=batch lr=0.3 seed=1" (the run id when nothing varies). The one label of
// a run: sweep --dry-run, the sweep's log and progress lines and status use it.
std::vector<std::string> run_labels(const Experiment& ex);
// The identity keys every run shares that differ from their defaults,
// "dataset=mnist:n=512 steps=20" ("defaults" when none), for --dry-run.
std::string shared_settings(const Experiment& ex);

}  // namespace normlab
