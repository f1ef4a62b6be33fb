#pragma once
// One run, set up in one place. `normlab train`, the sweep worker, sweep
// validation and the grid step timer all go through here:
//   RunConfig --resolve()--> TrainSpec --setup_run()--> dataset + model config
//             --build_run_model()--> built, initialized model --train_run()--> RunResult
#include <memory>

#include "data/dataset.h"
#include "nn/model.h"
#include "nn/sequential.h"
#include "train/run_config.h"
#include "train/trainer.h"

namespace normlab {

struct RunSetup {
  TrainSpec spec;
  std::shared_ptr<const Dataset> data;  // loaded once per process (cached by name)
  ModelConfig model;                    // spec.model with the data's input shape and classes
};

// Loads the dataset and checks everything about the run that does not need the
// model: the batch fits the training set, batch norm in an mlp has a batch of
// at least 2, stat-batches fit. Throws ConfigError (or DataError).
RunSetup setup_run(const TrainSpec& spec, const TrainFaults& faults = {});

// The run's training steps (spec.steps, or epochs x ceil(train_count /
// batch-size)) are within NORMLAB_MAX_STEPS (core/limits.h); ConfigError naming
// the key, the limit and the variable otherwise. setup_run calls it; a sweep
// calls it for every run before the first starts (an epochs axis).
void check_step_budget(const TrainSpec& spec, int train_count);

// Builds the model (groups must divide channels, widths must fit, its
// estimated memory must be within NORMLAB_MAX_MEMORY_MB (core/limits.h), all
// checked before anything is allocated: ConfigError otherwise), then initializes it from spec.init and spec.seed, or loads
// hooks.load_weights. With init = false the weights are left as built (for
// validation, which needs only the shapes).
std::unique_ptr<Sequential<float>> build_run_model(const RunSetup& s, const TrainHooks& hooks = {},
                                                   bool init = true);

// Everything that can be checked before training starts (setup_run, then
// build_run_model without initialization). Throws ConfigError.
void validate_run(const TrainSpec& spec);

// setup_run -> build_run_model -> train_run, with spec.threads set to threads.
RunResult run_one(TrainSpec spec, int threads, const TrainHooks& hooks = {});

}  // namespace normlab
