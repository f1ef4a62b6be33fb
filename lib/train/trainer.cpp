// The training loop. Per step t = 1..T:
//   batch from the epoch's shuffle -> forward (train) -> loss L_t
//   diverged if L_t is NaN/Inf or L_t > diverge_factor * L_1, or the gradient is not finite
//   zero grads -> backward -> global grad norm -> optimizer step at lr(t)
// Evaluation at step 0 (before any update), every eval_every steps (with eval_every = 0:
// every max(1, T / eval_count), eval_count 20 unless given) and at T:
// a fixed training subset, the validation split (when the dataset has one) and
// the test split, all in eval mode (running statistics for BN, or with
// eval-stats=batch each evaluation batch's own statistics), plus the activation
// probe. With eval-stats=precise, before each evaluation the BN population
// statistics are recomputed over precise-batches training batches (precise_bn.h)
// and the evaluation runs in eval mode with them; the running averages are put
// back before the probe, so training, the probe and saved weights keep their own.
// eval-between = val evaluates the validation split alone at the points between
// step 0 and T (test and the training subset at those two only: the plateau and
// best-lr selection read validation; the final metrics are T's, or for a diverged
// run step 0's). eval-subset = N limits validation and test to their first N samples. With
// eval-order = shuffled each split is evaluated in its own fixed permutation
// (drawn once per run from the seed and a per-split salt, the same at every
// evaluation point), so "first N" and each evaluation batch's members are a
// uniform draw instead of a stored slice. It also gives the prediction flip
// rate: at the last evaluation the same test images are evaluated again in a
// second fixed order, and pred_flip_rate is the fraction whose predicted class
// differs (0 when predictions do not depend on batch-mates). After training, optionally, the
// batch-statistic error of every BN input (train/batch_stats.h). With landscape,
// every evaluation point also probes the loss landscape along the gradient
// (train/landscape.h), after the activation probe; it leaves no trace either.
#include "train/trainer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <tuple>

#include "data/sampler.h"
#include "nn/checkpoint.h"
#include "core/errors.h"
#include "nn/model.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"
#include "tensor/rng.h"
#include "nn/softmax_xent.h"
#include "train/batch_stats.h"
#include "train/landscape.h"
#include "train/precise_bn.h"
#include "train/probe.h"
#include "train/train_step.h"

namespace normlab {

namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;
}
}  // namespace

std::vector<uint32_t> eval_permutation(int count, uint64_t seed, uint64_t salt) {
  // The sampler's shuffle of a salted seed: one batch-1 "epoch" is a permutation.
  EpochSampler s(count, 1, mix_seed(seed, salt), false);
  return s.order();
}

std::size_t eval_chunk_layers(const Sequential<float>& model) {
  std::size_t s = 0;
  while (s < model.num_layers() && model.layer(s).kind() != "linear" && model.layer(s).kind() != "rnn") ++s;
  return s;
}

int eval_chunk_rows(const Sequential<float>& model, Mode mode, int B) {
  const std::size_t split = eval_chunk_layers(model);
  if (mode != Mode::eval || split == 0) return B;  // batch statistics: the whole batch is one forward
  std::size_t widest = model.input_shape().size();
  for (std::size_t i = 0; i < split; ++i) widest = std::max(widest, model.layer(i).out_shape().size());
  return int(std::clamp<std::size_t>(kEvalChunkBytes / (widest * sizeof(float)), 8, std::size_t(std::max(B, 8))));
}

const float* forward_in_chunks(Sequential<float>& model, const float* x, int n, Mode mode, int chunk,
                               std::vector<float>& staged) {
  const std::size_t split = eval_chunk_layers(model);
  // Evaluation reads only the logits: relus fused (Keep::logits).
  if (mode != Mode::eval || chunk >= n || split == 0) return model.forward(x, n, mode, Keep::logits);
  const std::size_t in_size = model.input_shape().size(), mid = model.layer(split - 1).out_shape().size();
  staged.resize(std::size_t(n) * mid);
  for (int c = 0; c < n; c += chunk) {
    const int m = std::min(chunk, n - c);
    const float* p = model.forward_range(x + std::size_t(c) * in_size, m, mode, 0, split, Keep::logits);
    std::copy(p, p + std::size_t(m) * mid, staged.begin() + std::ptrdiff_t(c) * std::ptrdiff_t(mid));
  }
  if (split == model.num_layers()) return staged.data();
  return model.forward_range(staged.data(), n, mode, split, model.num_layers(), Keep::logits);
}

std::pair<double, double> evaluate(Sequential<float>& model, const Split& split, int eval_batch,
                                   int limit, Mode mode, const uint32_t* order, int32_t* preds,
                                   EvalScratch* scratch) {
  const int total = limit > 0 ? std::min(limit, split.count()) : split.count();
  const int B = std::min(eval_batch, model.max_batch());
  const int K = int(model.output_shape().size());
  const std::size_t in_size = model.input_shape().size();
  const int chunk = eval_chunk_rows(model, mode, B);
  EvalScratch local;
  EvalScratch& s = scratch ? *scratch : local;
  s.x.resize(std::size_t(B) * in_size);  // every value read is written below first
  s.probs.resize(std::size_t(B) * K);
  s.y.resize(B);
  std::vector<float>& x = s.x;
  std::vector<float>& probs = s.probs;
  std::vector<float>& staged = s.staged;
  std::vector<int32_t>& y = s.y;
  double loss = 0;
  long correct = 0;
  for (int begin = 0; begin < total; begin += B) {
    const int n = std::min(B, total - begin);
    if (order) split.gather(x.data(), y.data(), order + begin, n);
    else split.gather_range(x.data(), y.data(), begin, n);
    const float* z = forward_in_chunks(model, x.data(), n, mode, chunk, staged);
    loss += softmax_xent_forward(probs.data(), z, y.data(), n, K) * n;
    correct += count_correct(z, y.data(), n, K);
    if (preds)
      for (int i = 0; i < n; ++i) preds[begin + i] = row_argmax(z, i, K);
  }
  return {loss / total, double(correct) / total};
}

RunResult train_run(const TrainSpec& spec, const Dataset& data, Sequential<float>& model,
                    const TrainHooks& hooks) {
  // BLAS stays single-threaded: its threading changes the last bits with the
  // thread count. Parallelism inside a run comes from the pool, deterministically.
  blas_set_threads(1);
  ThreadPool pool(spec.threads);
  set_current_pool(&pool);
  struct Unset {
    ~Unset() { set_current_pool(nullptr); }
  } unset;
  RunResult r;
  r.has_val = data.val.count() > 0;
  const Split& train = data.train;
  const int N = spec.batch_size, K = data.classes;
  const std::size_t in_size = model.input_shape().size();
  EpochSampler sampler(train.count(), N, spec.seed, spec.drop_last);
  const long bpe = sampler.batches_per_epoch();
  const long total = spec.steps > 0 ? spec.steps : std::max(1L, std::lround(spec.epochs * bpe));
  const long count = spec.eval_count > 0 ? spec.eval_count : kDefaultEvalCount;
  const long every = spec.eval_every > 0 ? spec.eval_every : std::max(1L, total / count);
  if (hooks.live) hooks.live->total.store(total, std::memory_order_relaxed);

  // The probe batch: the first training samples in stored order.
  const int probe_n = std::min(spec.probe_batch, train.count());
  std::vector<float> probe_x(std::size_t(probe_n) * in_size);
  std::vector<int32_t> probe_y(probe_n);
  train.gather_range(probe_x.data(), probe_y.data(), 0, probe_n);
  // The landscape probe's batch: the probe batch's first batch-size samples (a training batch's size).
  std::optional<LandscapeProbe> landscape;
  if (spec.landscape) {
    const int ln = std::min(N, probe_n);
    landscape.emplace(model, std::vector<float>(probe_x.begin(), probe_x.begin() + std::size_t(ln) * in_size),
                      std::vector<int32_t>(probe_y.begin(), probe_y.begin() + ln), ln);
  }
  ActivationProbe probe(model, std::move(probe_x), probe_n);

  TrainStep stepper(model, spec.optim, N);
  if (spec.scale_hidden != 1)  // scale-hidden: the hidden layers (started at C x, run_setup.cpp) step at C^2 x lr
    for (const auto& [b, e] : hidden_weight_ranges(model))
      stepper.optimizer().scale_lr(b, e, spec.scale_hidden * spec.scale_hidden);
  std::vector<float> xb(std::size_t(N) * in_size);
  std::vector<int32_t> yb(N);

  // eval-order = shuffled: each split's permutation, drawn once here, outside the step loop.
  std::vector<uint32_t> order_train, order_val, order_test;
  if (spec.eval_shuffled) {
    order_train = eval_permutation(train.count(), spec.seed, 0x6576616c2d747261ull);  // "eval-tra"
    order_val = eval_permutation(data.val.count(), spec.seed, 0x6576616c2d76616cull);  // "eval-val"
    order_test = eval_permutation(data.test.count(), spec.seed, 0x6576616c2d746573ull);  // "eval-tes"
  }
  auto order_of = [&](const std::vector<uint32_t>& o) { return spec.eval_shuffled ? o.data() : nullptr; };
  // The prediction flip rate (eval-order = shuffled only): at the final evaluation the
  // same test images are evaluated a second time in another order, so each image has
  // other batch-mates; order_flip[j] = order_test[flip_pos[j]].
  const int flip_n = spec.eval_subset > 0 ? std::min(spec.eval_subset, data.test.count()) : data.test.count();
  std::vector<uint32_t> flip_pos, order_flip;
  std::vector<int32_t> preds_a, preds_b;
  if (spec.eval_shuffled) {
    flip_pos = eval_permutation(flip_n, spec.seed, 0x6576616c2d666c70ull);  // "eval-flp"
    for (uint32_t p : flip_pos) order_flip.push_back(order_test[p]);
    preds_a.resize(flip_n);
    preds_b.resize(flip_n);
  }

  double train_s = 0, grad_norm = 0, auc = 0, initial_loss = 0, lr = spec.lr;
  long samples = 0;
  std::vector<float> saved_buffers;  // running averages kept aside during a precise evaluation
  EvalScratch scratch;               // every evaluation's buffers, allocated at the first
  if (spec.eval_between == EvalBetween::val && !r.has_val)
    throw ConfigError(fmt::format("eval-between: val evaluates the validation split between the first and last "
                                  "points, and dataset '{}' gives none (allowed: a larger val fraction, or "
                                  "eval-between = all)", spec.dataset));
  auto record = [&](long step) {
    const Mode em = spec.eval_batch_stats ? Mode::eval_batch_stats : Mode::eval;
    // Every split at step 0 and T; in between, validation alone with eval-between = val.
    const bool full = spec.eval_between == EvalBetween::all || step == 0 || step == total;
    if (spec.eval_precise) {
      saved_buffers.assign(model.buffers().begin(), model.buffers().end());
      recompute_precise_bn(model, train, spec.precise_batches, N, spec.seed);
    }
    double trl = 0, tra = 0, tel = 0, tea = 0;
    if (full) {
      std::tie(trl, tra) = evaluate(model, train, spec.eval_batch, spec.eval_train, em, order_of(order_train),
                                    nullptr, &scratch);
      const bool flip = spec.eval_shuffled && step == total;
      std::tie(tel, tea) = evaluate(model, data.test, spec.eval_batch, spec.eval_subset, em, order_of(order_test),
                                    flip ? preds_a.data() : nullptr, &scratch);
      if (flip) {
        evaluate(model, data.test, spec.eval_batch, spec.eval_subset, em, order_flip.data(), preds_b.data(), &scratch);
        long changed = 0;
        for (int j = 0; j < flip_n; ++j) changed += preds_b[j] != preds_a[flip_pos[j]];
        r.pred_flip_rate = flip_n > 0 ? double(changed) / flip_n : 0;
        r.has_flip = true;
      }
    }
    const double epoch = double(samples) / train.count();
    const double wnorm = hidden_weight_norm(model);
    if (full) r.curve.push_back({step, epoch, samples, "train", trl, tra, grad_norm, lr, train_s, wnorm});
    if (r.has_val) {
      const auto [vl, va] = evaluate(model, data.val, spec.eval_batch, spec.eval_subset, em, order_of(order_val),
                                     nullptr, &scratch);
      r.curve.push_back({step, epoch, samples, "val", vl, va, grad_norm, lr, train_s, wnorm});
      r.final_val_loss = vl;
      r.final_val_acc = va;
      r.best_val_acc = std::max(r.best_val_acc, va);
    }
    if (full) r.curve.push_back({step, epoch, samples, "test", tel, tea, grad_norm, lr, train_s, wnorm});
    if (spec.eval_precise) std::copy(saved_buffers.begin(), saved_buffers.end(), model.buffers().begin());
    probe.measure(model, step, r.activations);
    if (landscape) r.landscape.push_back(landscape->measure(step, lr));
    if (full) {
      r.final_train_loss = trl;
      r.final_train_acc = tra;
      r.final_test_loss = tel;
      r.final_test_acc = tea;
      r.best_test_acc = std::max(r.best_test_acc, tea);
      if (spec.target_acc > 0 && r.steps_to_target < 0 && tea >= spec.target_acc) {
        r.steps_to_target = step;
        r.seconds_to_target = train_s;
      }
    }
    if (hooks.on_eval) hooks.on_eval(r.curve.back(), total, train_s > 0 ? samples / train_s : 0);
  };

  // Test-only fault: runs with this norm throw at step 3, so tests can show that
  // an error during a run is recorded as data and retried when the sweep resumes.
  const bool fault = hooks.faults.throw_norm && *hooks.faults.throw_norm == spec.model.norm.kind;

  record(0);
  int epoch = 0;
  sampler.start_epoch(epoch);
  for (long step = 1; step <= total; ++step) {
    const auto t0 = Clock::now();
    const uint32_t* idx = nullptr;
    int n = 0;
    if (!sampler.next(idx, n)) {
      sampler.start_epoch(++epoch);
      sampler.next(idx, n);
    }
    if (fault && step == 3) throw std::runtime_error("injected fault (NORMLAB_FAULT_THROW_NORM) at step 3");
    if (hooks.stop && hooks.stop->load(std::memory_order_relaxed))
      throw RunAbandoned(fmt::format("stopped by signal {} at step {}", hooks.stop->load(), step));
    train.gather(xb.data(), yb.data(), idx, n);
    lr = lr_at(spec.schedule, spec.lr, step - 1, total);
    // The first batch's loss is the reference for "exploded"; it is not known before step 1.
    const double limit = step == 1 ? HUGE_VAL : spec.diverge_factor * initial_loss;
    const bool recorded = step % every == 0 || step == total;  // record() reports this step's norm
    const StepOutcome o = stepper.run(xb.data(), yb.data(), n, lr, limit, recorded);
    if (step == 1) initial_loss = o.loss;
    if (!o.updated) {
      r.status = "diverged";
      r.failure = std::isfinite(o.loss) && std::isfinite(o.grad_norm) ? "explosion" : "nan";
      r.diverge_step = step;
      r.message = std::isfinite(o.loss) && o.loss <= limit
                      ? fmt::format("gradient norm {} at step {}", o.grad_norm, step)
                      : fmt::format("loss {} at step {} (initial {:.4g})", o.loss, step, initial_loss);
      break;
    }
    grad_norm = o.grad_norm;
    const double loss = o.loss;
    train_s += seconds_since(t0);
    samples += n;
    auc += loss;
    r.steps_done = step;
    if (hooks.live) {
      hooks.live->loss.store(loss, std::memory_order_relaxed);
      hooks.live->step.store(step, std::memory_order_relaxed);
    }
    if (recorded) record(step);
  }
  r.loss_auc = r.steps_done > 0 ? auc / double(r.steps_done) : 0;
  r.train_seconds = train_s;
  r.samples_per_s = train_s > 0 ? samples / train_s : 0;
  const double chance = 1.0 / K;
  if (r.status == "ok" && r.final_test_acc < 1.5 * chance &&
      r.final_train_loss > 0.9 * std::log(double(K)))
    r.failure = "collapsed";
  if (r.status == "ok" && !spec.stat_batches.empty())
    measure_batch_stats(model, train, spec.stat_batches, spec.stat_draws, spec.eval_batch, spec.seed,
                        r.steps_done, r.batch_stats);
  r.peak_rss_mb = peak_rss_mb();
  if (!hooks.save_weights.empty()) save_checkpoint(hooks.save_weights, model);
  return r;
}

}  // namespace normlab
