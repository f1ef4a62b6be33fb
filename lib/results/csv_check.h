#pragma once
// Checks of a results folder's CSVs before their numbers are trusted
// (`claims --evaluate-only`, `normlab verify`). Each returns one message per
// problem, "FILE: data row N: ..." (rows counted from 1 after the header).
//
// A row is identified by its key columns:
//   runs.csv, timings.csv  run_id
//   curves.csv             run_id, step, split
//   activations.csv        run_id, step, layer, kind
//   batchstats.csv         run_id, step, layer, batch
// Completeness: every run of runs.csv that ran (status ok or diverged) has
// rows in curves.csv; in activations.csv unless its model has no probed
// pre-activation (rnn); in batchstats.csv when its stat-batches is set. Every
// run named in those files is a run of runs.csv.
// Numbers: a metric that is NaN or infinite ("nan", "inf") in the row of a run
// whose status is ok is a problem; in a diverged run's row it is data (the
// loss that diverged) and is reported as a note.
#include <string>
#include <vector>

#include "results/csv_table.h"

namespace normlab {

// The key columns of a results CSV by its file name; empty for other files.
std::vector<std::string> csv_key_columns(const std::string& path);

// Rows that repeat another row's key (a run_id twice in runs.csv).
std::vector<std::string> duplicate_rows(const CsvTable& t);

// Runs of `runs` without their rows in `other` (named by file, see above),
// and rows of `other` whose run is not in `runs`.
std::vector<std::string> missing_rows(const CsvTable& runs, const CsvTable& other);

// Non-finite metrics (see above): problems of ok runs go to *problems,
// diverged runs' to *notes. runs: the folder's runs.csv (statuses).
void nonfinite_metrics(const CsvTable& t, const CsvTable& runs, std::vector<std::string>* problems,
                       std::vector<std::string>* notes);

// All of the above for DIR's runs.csv and the other CSVs of the list (a
// missing one is a problem). Throws ConfigError when runs.csv or a file of
// the list cannot be read as CSV. notes may be null.
std::vector<std::string> check_results_csvs(const std::string& dir, const std::vector<std::string>& files,
                                            std::vector<std::string>* notes);

}  // namespace normlab
