#pragma once
// Runs an experiment's grid: validation of every run before any starts, then
// `jobs` runs at a time in this process, skipping runs already complete.
#include <atomic>
#include <functional>
#include <string>

#include "sweep/experiment.h"
#include "sweep/sweep_dir.h"
#include "train/trainer.h"

namespace normlab {

// What a sweep is doing right now, for a live display (cmd/progress.h): one
// slot per job, holding the grid index of its run (-1 when idle) and that
// run's position. Counters only; results never depend on it.
struct SweepLive {
  struct Slot {
    std::atomic<long> run{-1};
    LiveRun progress;
  };
  explicit SweepLive(int jobs) : slots(std::size_t(jobs)) {}
  std::vector<Slot> slots;
  std::atomic<long> finished_steps{0};  // steps of the runs this invocation finished
  std::atomic<long> finished_total{0};  // their planned step totals (a diverged run stops early)
  std::atomic<int> finished_runs{0};
  std::atomic<int> total{0}, skipped{0};  // runs in this shard; complete before this invocation
  std::atomic<int> not_started{0};      // pending runs no job has picked up yet
};

struct SweepOptions {
  int jobs = 1;
  int threads_per_run = 1;       // each run's thread pool (results do not depend on it)
  int shard_index = 0, shard_count = 1;  // run grid indices g with g % count == index
  bool dry_run = false;
  TrainFaults faults;            // test-only (train/trainer.h); off by default
  // Raised (nonzero) to stop: no new run starts and runs in flight are
  // abandoned, unwritten (sweep/interrupt.h). nullptr: never stops.
  const std::atomic<int>* stop = nullptr;
  // Told about each run whose parts are damaged (sweep_dir.h), before it is run again.
  std::function<void(const std::string&)> warn;
  // When set, with at least `jobs` slots: updated as runs start, step and end.
  SweepLive* live = nullptr;
};

struct SweepProgress {
  int total = 0;       // runs in this shard
  int skipped = 0;     // complete before this invocation
  int done = 0, running = 0, failed = 0, diverged = 0;
  double elapsed_s = 0, eta_s = 0;
};

struct SweepSummary {
  SweepProgress progress;
  int assembled = 0;   // runs of the whole grid present in the CSVs
  std::vector<std::string> abandoned;  // run ids stopped midway (opt.stop), not written
  int not_started = 0;                 // pending runs never started because of opt.stop
};

// "i/n" -> (i, n); throws ConfigError unless 0 <= i < n.
std::pair<int, int> parse_shard(const std::string& s);

// Every run of the shard, in grid order.
std::vector<std::size_t> shard_runs(const Experiment& ex, int index, int count);

// A run's estimated work, in multiply-add units, for ordering only:
//   T (3 N F + 10 P) + E (images per evaluation) F
// T steps of batch N, F the model's forward multiply-adds per sample, P its parameters
// (the per-step passes over weights and gradients), E evaluations. 0 when the run does not
// set up (it fails when run, as before).
double run_cost(const TrainSpec& spec);

// The order a sweep starts its pending runs (grid indices) in. With more than one job the
// costliest first (longest-processing-time order: the last runs to start are short, so jobs
// finish together instead of one finishing a long run while the others idle); equal costs,
// and one job, keep grid order. Results do not depend on it: each run writes its own parts
// and the CSVs are assembled in grid order.
std::vector<std::size_t> start_order(const Experiment& ex, std::vector<std::size_t> pending, int jobs);

// Loads each dataset and builds each distinct model once, so that a bad
// combination (groups that do not divide a layer, a batch larger than the
// data) stops the sweep before any run. Throws ConfigError listing them all.
void validate_runs(const Experiment& ex);

SweepSummary run_sweep(const Experiment& ex, const SweepDir& dir, const SweepOptions& opt,
                       const std::function<void(const SweepProgress&, const std::string& line)>& report);

}  // namespace normlab
