#pragma once
// One training run: model, data stream, optimizer, evaluation, divergence.
#include <atomic>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "nn/sequential.h"
#include "train/run_config.h"
#include "train/run_result.h"

namespace normlab {

// Test-only faults, off unless a caller sets them; the library reads no
// environment for them (the CLI maps its NORMLAB_FAULT_* test switches here).
struct TrainFaults {
  bool bn_train_uses_running = false;  // batch norm normalizes with its running averages in training
  std::optional<NormKind> throw_norm;  // runs with this norm throw at step 3 (an error during a run)
};

// A run's position, for a live display: the trainer stores total once, then
// step and the step's training loss after every step. Relaxed atomics, read
// by a display thread that may lag a step; never used for results.
struct LiveRun {
  std::atomic<long> step{0}, total{0};
  std::atomic<double> loss{0};
};

struct TrainHooks {
  // Called after each evaluation, for progress display. Never for data output.
  std::function<void(const EvalPoint& test, long total_steps, double samples_per_s)> on_eval;
  std::string load_weights;  // safetensors to start from instead of init
  std::string save_weights;  // safetensors written at the end
  TrainFaults faults;
  // When set and nonzero (a signal number), the run stops at its next step by
  // throwing RunAbandoned; nothing of it should be written (sweep/interrupt.h).
  const std::atomic<int>* stop = nullptr;
  LiveRun* live = nullptr;  // when set, updated after every step
};

// Thrown by train_run when hooks.stop was raised: the run is incomplete.
struct RunAbandoned : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Trains a model built by build_run_model (train/run_setup.h). Never throws for a diverged run (status "diverged"); throws for
// errors in the run itself (the caller records status "error").
RunResult train_run(const TrainSpec& spec, const Dataset& data, Sequential<float>& model,
                    const TrainHooks& hooks = {});

// Evaluation of the first `limit` samples (0: all) in batches of eval_batch:
// {loss, accuracy}. Mode::eval uses BN's running averages; Mode::eval_batch_stats
// each batch's own statistics (the last batch may be smaller). With `order`
// (a permutation of 0..split.count()-1), "first" means order[0..limit): batch k
// is the samples order[k*B .. (k+1)*B); without it, stored order. With `preds`
// (room for min(limit, count) entries), preds[i] = the predicted class of the
// i-th sample evaluated.
// Evaluation in cache-sized chunks. In Mode::eval each layer before the first dense or
// rnn layer (eval_chunk_layers: the convolutional part) computes each sample on its own,
// so evaluate runs that part in chunks of eval_chunk_rows samples (about kEvalChunkBytes
// of its widest output, which then stays in cache), and the rest on the whole batch,
// whose BLAS products are not the same bytes in smaller pieces. The logits are the bytes
// of one forward of the whole batch (tests/test_train_eval_order.cpp).
inline constexpr std::size_t kEvalChunkBytes = std::size_t(4) << 20;
std::size_t eval_chunk_layers(const Sequential<float>& model);
int eval_chunk_rows(const Sequential<float>& model, Mode mode, int B);  // B when not chunked
// forward(x, n, mode) in that way (other modes: one forward); `staged` holds the split point's outputs.
const float* forward_in_chunks(Sequential<float>& model, const float* x, int n, Mode mode, int chunk,
                               std::vector<float>& staged);

// evaluate's buffers (the gathered batch, labels, probabilities, the chunked forward's
// staging). A run keeps one for all its evaluations, so that only the first allocates
// (the staging of a wide conv net is tens of MB: fresh pages at every call had cost a
// cnn run a fifth of its CPU time in page faults). Values never carry over between calls.
struct EvalScratch {
  std::vector<float> x, probs, staged;
  std::vector<int32_t> y;
};

std::pair<double, double> evaluate(Sequential<float>& model, const Split& split, int eval_batch,
                                   int limit = 0, Mode mode = Mode::eval, const uint32_t* order = nullptr,
                                   int32_t* preds = nullptr, EvalScratch* scratch = nullptr);

// The fixed evaluation order of a split with `count` samples under eval-order =
// shuffled: a uniform permutation, a pure function of (seed, salt).
std::vector<uint32_t> eval_permutation(int count, uint64_t seed, uint64_t salt);

}  // namespace normlab
