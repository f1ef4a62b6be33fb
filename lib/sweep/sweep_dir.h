#pragma once
// A sweep directory:
//   parts/RUN_ID.curves.csv, .activations.csv, .batchstats.csv, then .runs.csv
//       one completed run each, written in that order, each by rename from a
//       temporary file; the runs part marks the run complete, so a run killed at
//       any moment has no runs part and is simply run again. Each part is
//           HEADER\n ROWS... #part run_id=ID numerics=NUM sha256=HEX\n
//       where HEX is the SHA-256 of everything before that last line. A part is
//       trusted only when that line is there, ID is the run its file name
//       names and every row's run_id column, NUM is this build's numerics
//       (tensor/numerics.h: the engine's summation orders, the BLAS and its kernel),
//       the checksum matches both HEX and the ledger's record of it, and HEADER
//       is the current column layout; a run with any part that is not is
//       "damaged" and is run again (a truncated, overwritten, copied-from-another-run
//       or older-layout file, or one computed with other arithmetic, which would
//       otherwise sit beside this build's runs in one comparison).
//   ledger/parts.sha256
//       one line "HEX  parts/ID.KIND.csv" appended (O_APPEND, one write) as each
//       part is renamed into place; the last line for a file is its record. A
//       part whose bytes do not hash to it (or that has none) is not trusted.
//   runs.csv, curves.csv, activations.csv, batchstats.csv
//       the rows of the experiment's whole runs concatenated in grid order (so
//       the bytes do not depend on --jobs, shards or resumes; no footer lines),
//       rebuilt atomically.
//   manifest.json
// Several processes (shards) may share one directory: parts never collide.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "train/run_config.h"
#include "train/run_result.h"

namespace normlab {

// What a run's parts say about it.
struct RunParts {
  enum State { missing, whole, damaged } state = missing;
  std::string status;   // whole: the status column of its runs part
  std::string problem;  // damaged: which part and what is wrong with it
};

// What a part must pass to be trusted: everything above, or (only for the
// test that shows the randomized store test catches a planted bug, switched on
// by NORMLAB_FAULT_TRUST_PARTS=1 in `sweep`) everything but the two checksums.
enum class PartChecks { full, without_checksums };
// Whose numerics a trusted part must record: this build's (resuming, merging: a part of other
// numerics is run again), or any (verify, --evaluate-only: the parts are read as they are, and
// mixed_numerics() finds a folder whose runs disagree).
enum class PartNumerics { this_build, any };

class SweepDir {
 public:
  explicit SweepDir(std::string dir, PartChecks checks = PartChecks::full,
                    PartNumerics numerics = PartNumerics::this_build);
  const std::string& path() const { return dir_; }

  // Whether the run has a whole set of parts (see above).
  RunParts check_run(const std::string& run_id) const;
  // The status column of a run's whole set of parts, if it has one.
  std::optional<std::string> completed_status(const std::string& run_id) const;
  void write_run(const RunConfig& cfg, const RunResult& r) const;
  // Copies a run's whole parts from another sweep directory (runs part last).
  // REQUIRES: from.check_run(run_id).state == RunParts::whole.
  void copy_run_from(const SweepDir& from, const std::string& run_id) const;
  // Rebuilds the CSVs from the whole parts of these runs; returns how many
  // runs had them (the others are missing or damaged). A CSV that already
  // holds exactly those rows is not written (its bytes and time stay).
  int assemble(const std::vector<RunConfig>& runs) const;
  // What assemble() writes: (file name, text) of the four CSVs; *present as its return.
  std::vector<std::pair<std::string, std::string>> assembled(const std::vector<RunConfig>& runs, int* present) const;
  // Moves parts/ aside to parts.old-N (never deletes results).
  std::string archive_parts() const;
  std::string parts_dir() const { return dir_ + "/parts"; }
  // The file of a run's part of one kind ("curves", "activations",
  // "batchstats", "runs") and the kinds in writing order.
  std::string part(const std::string& run_id, const char* kind) const;
  static const std::vector<const char*>& part_kinds();
  // One part's rows when it is trusted (see above); nullopt and *problem otherwise.
  std::optional<std::string> read_part(const std::string& run_id, const char* kind, std::string* problem) const;
  // Re-reads ledger/parts.sha256 (other processes may have added to it).
  void reload_ledger() const;
  // The numerics a run's runs part records ("" when none: an older normlab's, or no part).
  std::string numerics_of(const std::string& run_id) const;

 private:
  void record(const std::string& file) const;  // appends the file's hash to the ledger
  // The rows of each part of a whole run, in kKinds order; nullopt otherwise.
  std::optional<std::vector<std::string>> read_run(const std::string& run_id, RunParts* check) const;
  std::string dir_;
  PartChecks checks_;
  PartNumerics numerics_;
  struct Ledger;  // parts.sha256 as read (file -> hash), shared by copies
  std::shared_ptr<Ledger> ledger_;
};

// "" when the runs among run_ids that have parts record one numerics; else the problem, naming
// each numerics and its count of runs.
std::string mixed_numerics(const SweepDir& dir, const std::vector<std::string>& run_ids);

}  // namespace normlab
