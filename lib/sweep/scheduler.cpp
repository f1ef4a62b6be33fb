// The sweep scheduler: a shared counter over the pending runs (costliest first
// with more than one job: start_order), `jobs` worker threads, one run per
// worker at a time. Each run's result reaches disk only through
// SweepDir::write_run (temporary file + rename), so killing the process at any
// moment loses at most the runs in flight.
#include "sweep/scheduler.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "data/dataset.h"
#include "core/errors.h"
#include "core/parse_number.h"
#include "nn/residual.h"
#include "train/run_setup.h"

namespace normlab {

std::pair<int, int> parse_shard(const std::string& s) {
  const auto slash = s.find('/');
  auto bad = [&] {
    return ConfigError(fmt::format("--shard: '{}' (allowed: i/n with 0 <= i < n <= {}, e.g. 0/4)", s, kMaxInt));
  };
  if (slash == std::string::npos) throw bad();
  int i = 0, n = 0;
  try {  // each part whole: "1/2x" and "0/2/7" are refused, not read as 1/2 and 0/2
    n = int(parse_integer(s.substr(slash + 1), 1, kMaxInt, "--shard"));
    i = int(parse_integer(s.substr(0, slash), 0, n - 1, "--shard"));
  } catch (const ConfigError&) {
    throw bad();
  }
  return {i, n};
}

std::vector<std::size_t> shard_runs(const Experiment& ex, int index, int count) {
  std::vector<std::size_t> out;
  for (std::size_t g = 0; g < ex.runs.size(); ++g)
    if (int(g % std::size_t(count)) == index) out.push_back(g);
  return out;
}

void validate_runs(const Experiment& ex) {
  std::vector<std::string> problems;
  std::set<std::string> seen_setups, seen_msgs;
  for (std::size_t i = 0; i < ex.runs.size(); ++i) {
    const RunConfig& cfg = ex.runs[i];
    // One run per distinct combination of the keys that can change its set-up.
    std::string key;
    for (const auto& k : run_keys())
      if (k.setup) key += cfg.get(k.name) + "|";
    if (!seen_setups.insert(key).second) continue;
    try {
      validate_run(ex.specs[i]);
    } catch (const ConfigError& e) {
      if (seen_msgs.insert(e.what()).second)
        problems.push_back(fmt::format("{}: run with dataset={} model={} widths={} norm={} "
                                       "groups={} batch-size={}:\n  {}",
                                       ex.path, cfg.get("dataset"), cfg.get("model"),
                                       cfg.get("widths"), cfg.get("norm"), cfg.get("groups"),
                                       cfg.get("batch-size"), e.what()));
    }
  }
  if (!problems.empty()) throw ConfigError(fmt::format("{}", fmt::join(problems, "\n")));
  // Steps depend on keys that are not set-up keys (epochs, steps): every run is
  // checked, against its training set (loaded once per dataset, cached).
  for (std::size_t i = 0; i < ex.runs.size(); ++i) {
    try {
      check_step_budget(ex.specs[i], load_dataset(ex.specs[i].dataset)->train.count());
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{}: run {} ({}):\n  {}", ex.path, i, ex.runs[i].run_id(), e.what()));
    }
  }
}

namespace {
// Forward multiply-adds per sample and parameter count of the run's model (built uninitialized
// at batch 2).
std::pair<double, double> model_work(const TrainSpec& spec) {
  TrainSpec s = spec;
  s.batch_size = 2;
  s.stat_batches.clear();
  const auto model = build_run_model(setup_run(s), {}, false);
  double f = 0;
  auto count = [&f](const Layer<float>& L) {
    const auto ps = L.params();
    if (L.kind() == "linear") f += double(ps[0].shape[0]) * ps[0].shape[1];
    if (L.kind() == "conv2d") f += double(ps[0].shape[0]) * ps[0].shape[1] * ps[0].shape[2] * ps[0].shape[3] *
                                   L.out_shape().spatial();
    if (L.kind() == "rnn") f += double(L.in_shape().h) * ps[0].shape[0] * (ps[0].shape[0] + ps[0].shape[1]);
    if (L.kind() == "batchnorm" || L.kind() == "layernorm" || L.kind() == "groupnorm") f += 4.0 * L.out_shape().size();
  };
  for (std::size_t i = 0; i < model->num_layers(); ++i) {
    count(model->layer(i));
    if (auto* block = dynamic_cast<const ResidualBlock<float>*>(&model->layer(i)))
      for (std::size_t k = 0; k < block->num_parts(); ++k) count(block->part(k));
  }
  return {f, double(model->params().size())};
}

// run_cost (scheduler.h), with the model's work from `work`.
double cost_with(const TrainSpec& spec, const std::function<std::pair<double, double>()>& work) {
  try {
    const auto data = load_dataset(spec.dataset);
    const auto [f, p] = work();
    const double n = data->train.count(), N = spec.batch_size;
    const double T = spec.steps > 0 ? double(spec.steps) : std::max(1.0, std::round(spec.epochs * std::ceil(n / N)));
    const double count = double(spec.eval_count > 0 ? spec.eval_count : kDefaultEvalCount);
    const double every = spec.eval_every > 0 ? double(spec.eval_every) : std::max(1.0, std::floor(T / count));
    const double evals = 2 + std::floor(T / every);
    // Images one evaluation reads from a split of `size` under a cap (0: no cap), as evaluate() does.
    auto part = [](double size, int cap) { return cap > 0 ? std::min(size, double(cap)) : size; };
    const double val = part(data->val.count(), spec.eval_subset);
    const double rest = part(n, spec.eval_train) + part(data->test.count(), spec.eval_subset);
    // eval-between = val: test and the training subset at step 0 and T only
    const double rest_evals = spec.eval_between == EvalBetween::val ? 2 : evals;
    return T * (3 * N * f + 10 * p) + (evals * val + rest_evals * rest) * f;
  } catch (const std::exception&) {
    return 0;
  }
}

// A slot takes a run: its position restarts at 0 before the run is visible.
void live_start(SweepLive& live, SweepLive::Slot& slot, long run) {
  slot.progress.step.store(0);
  slot.progress.total.store(0);
  --live.not_started;
  slot.run.store(run);
}

// The run ended (ok, diverged or error): its steps join the finished count.
void live_end(SweepLive& live, SweepLive::Slot& slot) {
  slot.run.store(-1);
  live.finished_steps += slot.progress.step.load();
  if (const long total = slot.progress.total.load(); total > 0) {
    live.finished_total += total;
    ++live.finished_runs;
  }
}
}  // namespace

double run_cost(const TrainSpec& spec) {
  return cost_with(spec, [&] { return model_work(spec); });
}

std::vector<std::size_t> start_order(const Experiment& ex, std::vector<std::size_t> pending, int jobs) {
  if (jobs <= 1 || pending.size() < 2) return pending;
  std::vector<double> cost(pending.size());
  std::map<std::string, std::pair<double, double>> built;  // per model: its set-up keys but the batch
  for (std::size_t k = 0; k < pending.size(); ++k) {
    const RunConfig& c = ex.runs[pending[k]];
    std::string key;
    for (const auto& s : run_keys())
      if (s.setup && std::string(s.name) != "batch-size") key += c.get(s.name) + "\n";
    cost[k] = cost_with(ex.specs[pending[k]], [&] {
      auto it = built.find(key);
      if (it == built.end()) it = built.emplace(key, model_work(ex.specs[pending[k]])).first;
      return it->second;
    });
  }
  std::vector<std::size_t> pos(pending.size());
  for (std::size_t k = 0; k < pos.size(); ++k) pos[k] = k;
  std::stable_sort(pos.begin(), pos.end(), [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
  std::vector<std::size_t> out;
  out.reserve(pending.size());
  for (std::size_t k : pos) out.push_back(pending[k]);
  return out;
}

SweepSummary run_sweep(const Experiment& ex, const SweepDir& dir, const SweepOptions& opt,
                       const std::function<void(const SweepProgress&, const std::string&)>& report) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  std::vector<std::size_t> pending;
  SweepProgress prog;
  for (std::size_t g : shard_runs(ex, opt.shard_index, opt.shard_count)) {
    ++prog.total;
    const std::string id = ex.runs[g].run_id();
    const RunParts c = dir.check_run(id);
    if (c.state == RunParts::whole && c.status != "error") {
      ++prog.skipped;
      continue;
    }
    if (c.state == RunParts::damaged && opt.warn)
      opt.warn(fmt::format("run {}: not trusted, running it again: {}", id, c.problem));
    pending.push_back(g);
  }

  pending = start_order(ex, std::move(pending), opt.jobs);

  TrainHooks hooks;
  hooks.faults = opt.faults;
  hooks.stop = opt.stop;
  std::vector<std::string> abandoned;
  std::atomic<int> started{0};
  const std::vector<std::string> labels = run_labels(ex);  // varying keys, for the log
  std::mutex mu;
  std::atomic<std::size_t> next{0};
  if (opt.live) {
    opt.live->total.store(prog.total);
    opt.live->skipped.store(prog.skipped);
    opt.live->not_started.store(int(pending.size()));
  }
  auto worker = [&](int job) {
    SweepLive::Slot* slot = opt.live ? &opt.live->slots[std::size_t(job)] : nullptr;
    TrainHooks run_hooks = hooks;
    if (slot) run_hooks.live = &slot->progress;
    for (;;) {
      if (opt.stop && opt.stop->load()) return;
      const std::size_t k = next.fetch_add(1);
      if (k >= pending.size()) return;
      ++started;
      const RunConfig& cfg = ex.runs[pending[k]];
      {
        std::lock_guard<std::mutex> lock(mu);
        ++prog.running;
      }
      if (slot) live_start(*opt.live, *slot, long(pending[k]));
      RunResult r;
      try {
        r = run_one(ex.specs[pending[k]], opt.threads_per_run, run_hooks);
      } catch (const RunAbandoned&) {  // incomplete: nothing is written; a rerun runs it
        if (slot) slot->run.store(-1);
        std::lock_guard<std::mutex> lock(mu);
        --prog.running;
        abandoned.push_back(cfg.run_id());
        continue;
      } catch (const std::exception& e) {
        r = RunResult{};
        r.status = "error";
        r.message = e.what();
      }
      try {
        dir.write_run(cfg, r);
      } catch (const std::exception& e) {  // disk full, permissions: report, do not abort the sweep
        r.status = "error";
        r.message = std::string("writing results: ") + e.what();
      }
      if (slot) live_end(*opt.live, *slot);
      std::lock_guard<std::mutex> lock(mu);
      --prog.running;
      ++prog.done;
      prog.failed += r.status == "error";
      prog.diverged += r.status == "diverged";
      prog.elapsed_s = std::chrono::duration<double>(Clock::now() - t0).count();
      const int left = int(pending.size()) - prog.done;
      prog.eta_s = prog.elapsed_s / prog.done * left;
      report(prog, fmt::format("{} ({}) {} {}", labels[pending[k]], cfg.run_id(), r.status,
                               r.status == "error" ? r.message
                                                   : fmt::format("test acc {:.4f}", r.final_test_acc)));
    }
  };
  const int jobs = std::max(1, std::min<int>(opt.jobs, int(pending.size())));
  std::vector<std::thread> threads;
  for (int j = 1; j < jobs; ++j) threads.emplace_back(worker, j);
  worker(0);
  for (auto& t : threads) t.join();

  SweepSummary s;
  s.progress = prog;
  s.abandoned = std::move(abandoned);
  s.not_started = int(pending.size()) - started.load();
  s.assembled = dir.assemble(ex.runs);
  return s;
}

}  // namespace normlab
