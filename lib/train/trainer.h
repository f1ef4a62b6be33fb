#pragma once
// One training run: model, data stream, optimizer, evaluation, divergence.
#include <functional>
#include <memory>
#include <string>

#include "data/dataset.h"
#include "nn/sequential.h"
#include "train/run_config.h"
#include "train/run_result.h"

namespace normlab {

struct TrainHooks {
  // Called after each evaluation, for progress display. Never for data output.
  std::function<void(const EvalPoint& test, long total_steps, double samples_per_s)> on_eval;
  std::string load_weights;  // safetensors to start from instead of init
  std::string save_weights;  // safetensors written at the end
};

// Everything that can be checked before training starts: the dataset fits the
// batch size and the model, the model builds (groups divide channels, widths
// fit). Throws ConfigError. Returns the built, initialized model.
std::unique_ptr<Sequential<float>> prepare_model(const TrainSpec& spec, const Dataset& data,
                                                 const TrainHooks& hooks = {});

// Trains. Never throws for a diverged run (status "diverged"); throws for
// errors in the run itself (the caller records status "error").
RunResult train_run(const TrainSpec& spec, const Dataset& data, Sequential<float>& model,
                    const TrainHooks& hooks = {});

// Evaluation of the first `limit` samples (0: all) in batches of eval_batch:
// {loss, accuracy}. Mode::eval uses BN's running averages; Mode::eval_batch_stats
// each batch's own statistics (the last batch may be smaller).
std::pair<double, double> evaluate(Sequential<float>& model, const Split& split, int eval_batch,
                                   int limit = 0, Mode mode = Mode::eval);

}  // namespace normlab
