#pragma once
// The files a run (or a sweep of runs) writes. CSV layout, the contract with
// the analysis scripts:
//   runs.csv         run_id, every identity config key (not threads), status, failure, summary metrics, message;
//                    landscape_loss_range/grad_change/beta: medians over the evaluations after step 0
//                    of the landscape probe (train/landscape.h), empty unless landscape = true;
//                    hidden_wnorm: curves.csv's at the last evaluation
//   curves.csv       run_id, step, epoch, samples, split, loss, accuracy, grad_norm, lr, elapsed_s, hidden_wnorm
//                    (nn/model.h hidden_weight_norm; empty for rnn, resnet and cnn-plain)
//   activations.csv  run_id, step, layer, kind, mean, std, p15, p50, p85, unit_p15, unit_p50, unit_p85,
//                    eval_p15, eval_p50, eval_p85, bn_running_mean, bn_running_var
//   batchstats.csv   run_id, step, layer, batch, draws, mean_err, var_err (runs with stat-batches)
// Time-dependent columns (excluded from determinism checks) are listed by
// time_columns(). Every file is written to a temporary "NAME.tmp.HOST.PID.RANDOM" and
// renamed into place, so a killed process never leaves a half-written file
// behind and concurrent writers of one NAME never collide.
#include <string>
#include <vector>

#include "train/run_config.h"
#include "train/run_result.h"

namespace normlab {

const std::vector<std::string>& time_columns();

// "run_id,<every identity key>" and one run's values for them: the leading
// columns of runs.csv (and of the compute-overhead claim's timings.csv).
std::string config_header();
std::string config_fields(const RunConfig& cfg);

std::string runs_header();
std::string runs_row(const RunConfig& cfg, const RunResult& r);
std::string curves_header();
std::string curves_rows(const std::string& run_id, const RunResult& r);
std::string activations_header();
std::string activations_rows(const std::string& run_id, const RunResult& r);
std::string batchstats_header();
std::string batchstats_rows(const std::string& run_id, const RunResult& r);

// RFC 4180 field: quoted when it holds a comma, quote, line feed or carriage
// return (read_csv splits unquoted records at either).
std::string csv_field(const std::string& s);

// Writes `text` to path atomically (a temporary name unique to this process
// and call, then rename). On failure the temporary file is removed, path is
// as it was, and std::runtime_error says "cannot write PATH: REASON" with the
// OS's reason ("No space left on device", "File too large").
void write_file_atomic(const std::string& path, const std::string& text);

// write_file_atomic, unless path already holds exactly `text`: then the file is
// left as it is (bytes and modification time). Returns whether it was written.
bool write_file_if_changed(const std::string& path, const std::string& text);

// The current time, "YYYY-MM-DDTHH:MM:SSZ".
std::string utc_now();

}  // namespace normlab
