#pragma once
// A sweep directory:
//   parts/RUN_ID.curves.csv, .activations.csv, .batchstats.csv, then .runs.csv
//       one completed run each, written in that order, each by rename from a
//       .tmp file; the runs part marks the run complete, so a run killed at any
//       moment has no runs part and is simply run again.
//   runs.csv, curves.csv, activations.csv, batchstats.csv
//       the parts of the experiment's runs concatenated in grid order (so the
//       bytes do not depend on --jobs, shards or resumes), rebuilt atomically.
//   manifest.json
// Several processes (shards) may share one directory: parts never collide.
#include <optional>
#include <string>
#include <vector>

#include "train/run_config.h"
#include "train/run_result.h"

namespace normlab {

class SweepDir {
 public:
  explicit SweepDir(std::string dir);
  const std::string& path() const { return dir_; }

  // The status column of a run's completed part, if there is one.
  std::optional<std::string> completed_status(const std::string& run_id) const;
  void write_run(const RunConfig& cfg, const RunResult& r) const;
  // Rebuilds the three CSVs from the parts of these runs; returns how many
  // runs had a part (the others are missing).
  int assemble(const std::vector<RunConfig>& runs) const;
  // Moves parts/ aside to parts.old-N (never deletes results).
  std::string archive_parts() const;
  std::string parts_dir() const { return dir_ + "/parts"; }

 private:
  std::string part(const std::string& run_id, const char* kind) const;
  std::string dir_;
};

}  // namespace normlab
