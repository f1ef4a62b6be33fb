// The one run set-up path (contract in run_setup.h).
#include "train/run_setup.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "core/errors.h"
#include "core/limits.h"
#include "init/init.h"
#include "nn/checkpoint.h"

namespace normlab {

void check_step_budget(const TrainSpec& spec, int train_count) {
  const double limit = double(max_steps());
  if (spec.steps > 0) {
    if (double(spec.steps) > limit)
      throw ConfigError(fmt::format("steps: {} is more than the limit of {:.0f} steps; set {}={} to allow it",
                                    spec.steps, limit, kMaxStepsEnv, spec.steps));
    return;
  }
  // Steps of an epochs budget, in double: a huge epochs value must not wrap to one step.
  const double per_epoch = std::ceil(double(train_count) / std::max(1, spec.batch_size));
  const double steps = std::ceil(spec.epochs * per_epoch);
  if (steps > limit)
    throw ConfigError(fmt::format("epochs: {:g} epochs of {:g} batches is {:.0f} steps, more than the limit of {:.0f} "
                                  "steps (allowed: epochs up to {:g} here); set {}={:.0f} to allow it",
                                  spec.epochs, per_epoch, steps, limit, std::floor(limit / per_epoch), kMaxStepsEnv,
                                  steps));
}

RunSetup setup_run(const TrainSpec& spec, const TrainFaults& faults) {
  RunSetup s{spec, load_dataset(spec.dataset), spec.model};
  const Dataset& data = *s.data;
  if (spec.batch_size > data.train.count())
    throw ConfigError(fmt::format("batch-size: {} is larger than the training set of {} ({})",
                                  spec.batch_size, data.train.count(), data.name));
  if (data.test.count() < 1)  // every evaluation and the summary read the test split
    throw ConfigError(fmt::format("dataset: '{}' has no test images (the test split must hold at "
                                  "least 1)", data.name));
  check_step_budget(spec, data.train.count());
  // Dense batch norm has one value per feature per sample: a batch of 1 gives
  // no variance. (Conv batch norm pools over H x W and trains at batch 1.)
  if (is_batch_kind(spec.model.norm.kind) && spec.batch_size < 2 && spec.model.model == "mlp")
    throw ConfigError("batch-size: batch norm in an mlp needs a batch of at least 2 to train "
                      "(allowed: batch-size >= 2, or norm layer/group/none)");
  // The same for a ghost-batch chunk: the last chunk holds batch-size mod K samples.
  if (spec.model.norm.kind == NormKind::ghost_batch && spec.model.model == "mlp") {
    const int K = spec.model.norm.ghost_batch, N = spec.batch_size;
    if (std::min(K, N) < 2 || (N > K && N % K == 1))
      throw ConfigError(fmt::format(
          "ghost-batch: {} splits a batch of {} into chunks with a chunk of one sample, and batch "
          "norm in an mlp needs at least 2 (allowed: ghost-batch >= 2 with batch-size mod "
          "ghost-batch != 1)", K, N));
  }
  for (int b : spec.stat_batches)
    if (b > data.train.count())
      throw ConfigError(fmt::format("stat-batches: {} is larger than the training set of {} ({})", b,
                                    data.train.count(), data.name));
  s.model.input = data.shape;
  s.model.seed = spec.seed;
  s.model.classes = data.classes;
  if (faults.bn_train_uses_running) s.model.norm.bn_train_uses_running = true;
  return s;
}

namespace {

// Refuses, from the shapes alone, a model too big to allocate (limits.h):
// widths = [32, 100000000] exits 2 instead of exhausting memory mid-sweep.
void check_model_memory(const RunSetup& s, int max_batch, int max_backward) {
  const double bytes = model_memory_bytes(s.model, max_batch, max_backward), mib = 1024.0 * 1024.0;
  const std::uint64_t limit = max_memory_mb();
  if (bytes <= double(limit) * mib) return;
  const std::vector<int> widths = s.model.widths.empty() ? default_widths(s.model.model) : s.model.widths;
  throw ConfigError(fmt::format(
      "model memory: model={} widths={} batch-size={} eval-batch={} needs an estimated {:.0f} MiB "
      "(parameters, gradients, optimizer state, activations at batch {} and their gradients at "
      "batch {}, float32), more than the limit of {} MiB; use smaller widths or batches, or set {}={:.0f} "
      "to allow it",
      s.model.model, fmt::join(widths, ","), s.spec.batch_size, s.spec.eval_batch, std::ceil(bytes / mib),
      max_batch, max_backward, limit, kMaxMemoryEnv, std::ceil(bytes / mib)));
}

}  // namespace

std::unique_ptr<Sequential<float>> build_run_model(const RunSetup& s, const TrainHooks& hooks, bool init) {
  const int probe = std::min(s.spec.probe_batch, s.data->train.count());
  const int max_batch = std::max({s.spec.batch_size, s.spec.eval_batch, probe});
  // Backward runs on training batches only (the step, and the landscape probe's batch of batch-size).
  const int max_backward = std::min(s.spec.batch_size, max_batch);
  check_model_memory(s, max_batch, max_backward);
  auto model = build_model<float>(s.model, max_batch, max_backward);
  if (!init) return model;
  if (!hooks.load_weights.empty())
    load_checkpoint(hooks.load_weights, *model);
  else
    init_model(*model, s.spec.init, s.spec.seed);
  if (s.spec.scale_hidden != 1) {  // scale-hidden: the hidden layers start at C x (their lr: trainer.cpp)
    const float c = float(s.spec.scale_hidden);
    for (const auto& [b, e] : hidden_weight_ranges(*model))
      for (std::size_t i = b; i < e; ++i) model->params()[i] *= c;
  }
  return model;
}

void validate_run(const TrainSpec& spec) { build_run_model(setup_run(spec), {}, false); }

RunResult run_one(TrainSpec spec, int threads, const TrainHooks& hooks) {
  spec.threads = threads;
  const RunSetup s = setup_run(spec, hooks.faults);
  auto model = build_run_model(s, hooks);
  return train_run(s.spec, *s.data, *model, hooks);
}

}  // namespace normlab
