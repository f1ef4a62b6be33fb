#pragma once
// The regression history: an append-only folder of small tidy CSV files, one
// per (commit, machine, kind), so a plain text diff shows what a night added:
//   HISTORY/MACHINE/COMMIT.bench.csv   one row per (case, repeat)
//     commit, date, machine, cpu, cores, blas_kernel, triad_gb_s, sgemm_gflop_s, case, repeat, seconds
//   HISTORY/MACHINE/COMMIT.claims.csv  one row per claim cell (cell "" is the claim's own row)
//     commit, date, machine, cpu, cores, blas_kernel, claim, cell, n, mean, ci_low, ci_high, decision, tolerance
// MACHINE is the fingerprint id: the first 12 hex digits of
// sha256("CPU MODEL|CORES|BLAS KERNEL"). The probes (triad GB/s, sgemm
// GFLOP/s) are recorded beside it but are measurements, not identity.
// date: the commit's date (ISO 8601), which orders the records of a series.
#include <string>
#include <vector>

#include "bench/bench_csv.h"
#include "results/csv_table.h"

namespace normlab {

enum class RecordKind { bench, claims };
std::string record_kind_name(RecordKind k);  // "bench", "claims"

struct Machine {
  std::string cpu;
  int cores = 0;
  std::string blas_kernel;
  double triad_gb_s = 0, sgemm_gflop_s = 0;  // 0: not measured (a claims record)
  std::string id() const;
};

// This machine: /proc/cpuinfo's model name, the online core count, the BLAS kernel in use.
Machine this_machine();

struct ClaimCell {
  std::string claim, cell, decision;
  long n = 0;
  double mean = 0, ci_low = 0, ci_high = 0, tolerance = 0;  // NaN where claims.csv leaves a field empty
};

// claims.csv of a claims folder (after `normlab verify` passed): every row.
std::vector<ClaimCell> read_claim_cells(const std::string& claims_csv);

// The file a record goes to, and its text.
std::string record_path(const std::string& history, const std::string& machine_id, const std::string& commit,
                        RecordKind kind);
std::string bench_record_text(const std::string& commit, const std::string& date, const Machine& m,
                              const std::vector<BenchCase>& cases);
std::string claims_record_text(const std::string& commit, const std::string& date, const Machine& m,
                               const std::vector<ClaimCell>& cells);

// One history file read back and checked: its header is its kind's; every
// row carries the same commit, date and machine, which match its path.
struct Record {
  RecordKind kind = RecordKind::bench;
  std::string path, commit, date, machine;
  Machine fingerprint;
  std::vector<std::pair<std::string, std::vector<double>>> cases;  // bench: case -> repeats, in file order
  std::vector<ClaimCell> cells;                                     // claims
};

// Every record under HISTORY, ordered by (date, commit). A missing folder is an
// empty history. Throws ConfigError naming the file for a malformed one.
std::vector<Record> read_history(const std::string& history);

// A commit name usable in a file name: 4-64 characters of [0-9A-Za-z._-],
// not starting with '.'. Throws ConfigError naming `option` otherwise.
void check_commit_name(const std::string& option, const std::string& commit);

// The commit a record is filed under when --commit is not given: the build's own,
// BUILD_COMMIT (core/build_stamp.h), when it is a clean 12-hex commit. A build with
// uncommitted changes ("<hex>-dirty") or outside git ("unknown") belongs to no commit,
// so that throws ConfigError naming the stamp and --commit: its figures would otherwise
// be filed under a name that no commit has.
std::string default_record_commit(const std::string& build_commit);

}  // namespace normlab
