// Run configuration keys: defaults, canonical text, identity hash, validation.
#include "train/run_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "core/sha256.h"
#include "core/errors.h"

namespace normlab {

const std::vector<KeySpec>& run_keys() {
  static const std::vector<KeySpec> keys = {
      {"dataset", 's', "mnist", "mnist | fashion-mnist | idx:DIR | blobs | teacher | spirals | synthetic-images, with :key=value options"},
      {"model", 's', "mlp", "mlp | cnn | cnn-small | cnn-deep | rnn (layer lists: README, Models)"},
      {"widths", 'l', "", "hidden widths (mlp), conv channels (cnn, cnn-small, cnn-deep) or the hidden width (rnn), comma-separated; empty: the model's default"},
      {"activation", 's', "relu", "relu | sigmoid | tanh"},
      {"norm", 's', "none", "none | batch | layer | group | ghost-batch | batch-renorm | noisy-batch"},
      {"norm-placement", 's', "before", "before | after the activation"},
      {"groups", 'i', "8", "group norm: groups per layer (must divide its channels)"},
      {"bn-momentum", 's', "0.1", "weight of the new batch statistic (PyTorch form), or keras:0.99 (Keras form)"},
      {"eps", 'f', "1e-05", "norm epsilon > 0"},
      {"affine", 'b', "true", "learnable gamma/beta in norm layers"},
      {"dropout", 'f', "0", "inverted dropout after each hidden activation: drop probability, 0 <= p < 1; 0 = off", true, false, false},
      {"ghost-batch", 'i', "32", "norm=ghost-batch: samples per statistics chunk >= 1; a batch it does not divide ends with a smaller chunk", true, true, false},
      {"renorm-rmax", 'f', "3", "norm=batch-renorm: limit of r, >= 1", true, false, false},
      {"renorm-dmax", 'f', "5", "norm=batch-renorm: limit of d, >= 0", true, false, false},
      {"renorm-warmup", 'i', "0", "norm=batch-renorm: steps over which rmax grows from 1 and dmax from 0 to their limits, >= 0", true, false, false},
      {"noise-mean", 'f', "0.5", "norm=noisy-batch: bound a of the per-step shift distribution, >= 0", true, false, false},
      {"noise-scale", 'f', "2", "norm=noisy-batch: bound b of the per-step scale distribution, >= 1", true, false, false},
      {"init", 's', "default", "default | zeros | constant:V | normal:STD | uniform:A | xavier-normal | xavier-uniform | he-normal | he-uniform | lecun-normal | orthogonal, each optionally :SCALE"},
      {"optimizer", 's', "sgd", "sgd | momentum | adam"},
      {"lr", 'f', "0.1", "learning rate > 0", true, false},
      {"momentum", 'f', "0.9", "momentum coefficient in [0, 1)", true, false},
      {"nesterov", 'b', "false", "Nesterov momentum", true, false},
      {"weight-decay", 'f', "0", "L2 weight decay >= 0", true, false},
      {"schedule", 's', "constant", "constant | step | cosine"},
      {"lr-step-size", 'i', "1000", "step schedule: steps between decays", true, false},
      {"lr-gamma", 'f', "0.1", "step schedule: decay factor", true, false},
      {"warmup", 'i', "0", "linear warmup steps", true, false},
      {"clip-norm", 'f', "0", "clip gradients to this global L2 norm; 0 = off", true, false},
      {"batch-size", 'i', "64", "training batch size >= 1"},
      {"epochs", 'f', "1", "training epochs (fractions allowed); ignored when steps > 0", true, false},
      {"steps", 'i', "0", "training steps; 0 = use epochs", true, false},
      {"eval-every", 'i', "0", "steps between evaluations; 0 = about 20 per run", true, false},
      {"eval-batch", 'i', "1000", "batch size for evaluation"},
      {"eval-subset", 'i', "0", "evaluate the validation and test splits on their first N images only (a fixed subset, so frequent evaluation is cheap); 0 = whole splits", true, false, false},
      {"eval-stats", 's', "running", "batch norm at evaluation: running (its running averages) | batch (each evaluation batch's own statistics) | precise (population statistics recomputed over precise-batches training batches)"},
      {"precise-batches", 'i', "100", "eval-stats=precise: training batches (of batch-size) the population statistics are computed over, >= 1", true, false, false},
      {"eval-order", 's', "stored", "order evaluation goes through each split in: stored (consecutive slices in stored order) | shuffled (a fixed permutation of the seed, the same at every evaluation point, so with eval-stats=batch a batch's mates are random; eval-subset and the training subset take its first N)", true, false, false},
      {"stat-batches", 'l', "", "after training, measure each batch-norm input's batch mean/variance error against the training set's at these batch sizes (batchstats.csv); empty: off"},
      {"stat-draws", 'i', "200", "stat-batches: batches drawn per size", true, false},
      {"target-acc", 'f', "0", "test accuracy target for steps/seconds-to-target; 0 = none", true, false},
      {"diverge-factor", 'f', "1000", "diverged when the loss exceeds this multiple of its initial value", true, false},
      {"seed", 'i', "0", "seed for initialization and shuffling", true, false},
      {"threads", 'i', "1", "threads for this run (conv layers; results do not depend on it)", false, false},
  };
  return keys;
}

namespace {
const KeySpec* find_key(const std::string& name) {
  for (const auto& k : run_keys())
    if (name == k.name) return &k;
  return nullptr;
}

std::string all_key_names() {
  std::vector<std::string> n;
  for (const auto& k : run_keys()) n.push_back(k.name);
  return fmt::format("{}", fmt::join(n, ", "));
}

std::string where_prefix(const std::string& where) { return where.empty() ? "" : where + ": "; }

// The values an integer key can hold without wrapping where the trainer keeps it
// (an int, a step count, a 64-bit seed): lo is the smallest meaningful value,
// named in the message; values in [type min, lo) are left to resolve(), which
// explains them.
struct IntRange {
  long long lo, hi;
};
IntRange int_range(const std::string& key) {
  constexpr long long kInt = 2147483647;
  if (key == "seed") return {0, 9223372036854775807LL};
  if (key == "threads") return {1, kMaxThreads};
  if (key == "steps" || key == "eval-every" || key == "warmup") return {0, kMaxSteps};
  if (key == "lr-step-size") return {1, kMaxSteps};
  if (key == "eval-subset") return {0, kInt};
  return {1, kInt};  // batch sizes, groups, draws, list items (widths, stat-batches)
}

std::string canonical_value(const KeySpec& k, const std::string& raw, const std::string& where) {
  auto bad = [&](const char* what) {
    return ConfigError(fmt::format("{}{}: '{}' is not {} (allowed: {})", where_prefix(where), k.name,
                                   raw, what, k.help));
  };
  switch (k.type) {
    case 'f': {
      std::size_t used = 0;
      double v;
      try {
        v = std::stod(raw, &used);
      } catch (const std::out_of_range&) {  // a number, but too small or too large for a double
        throw ConfigError(fmt::format("{}{}: '{}' is out of range (a number's magnitude must be 0 or "
                                      "between 2.2e-308 and 1.8e+308; allowed: {})",
                                      where_prefix(where), k.name, raw, k.help));
      } catch (const std::exception&) {
        throw bad("a number");
      }
      if (used != raw.size() || !std::isfinite(v)) throw bad("a finite number");
      return fmt::format("{}", v);
    }
    case 'i': {
      std::size_t used = 0;
      long long v;
      const IntRange r = int_range(k.name);
      const bool negative = raw.find('-') != std::string::npos;
      try {
        v = std::stoll(raw, &used);
      } catch (const std::out_of_range&) {
        v = negative ? std::numeric_limits<long long>::min() : std::numeric_limits<long long>::max();
      } catch (const std::exception&) {
        throw bad("an integer");
      }
      if (used != raw.size() && v != std::numeric_limits<long long>::min() &&
          v != std::numeric_limits<long long>::max())
        throw bad("an integer");
      // Above hi, or below what the key's type holds: out of range, not wrapped.
      if (v > r.hi || v < (r.lo >= 0 ? -r.hi : r.lo) || (k.name == std::string("seed") && v < 0))
        throw ConfigError(fmt::format("{}{}: '{}' is out of range (allowed: {} to {})", where_prefix(where),
                                      k.name, raw, r.lo, r.hi));
      return fmt::format("{}", v);
    }
    case 'b': {
      if (raw == "true" || raw == "1" || raw == "yes") return "true";
      if (raw == "false" || raw == "0" || raw == "no") return "false";
      throw bad("true or false");
    }
    case 'l': {
      std::vector<long long> out;
      std::string item;
      std::stringstream ss(raw);
      while (std::getline(ss, item, ',')) {
        while (!item.empty() && item.front() == ' ') item.erase(item.begin());
        while (!item.empty() && item.back() == ' ') item.pop_back();
        std::size_t used = 0;
        try {
          out.push_back(std::stoll(item, &used));
        } catch (const std::out_of_range&) {
          out.push_back(std::numeric_limits<long long>::max());
          used = item.size();
        } catch (const std::exception&) {
          throw bad("a comma-separated list of integers");
        }
        if (used != item.size()) throw bad("a comma-separated list of integers");
        const IntRange r = int_range(k.name);
        if (out.back() > r.hi || out.back() < -r.hi)
          throw ConfigError(fmt::format("{}{}: '{}' is out of range (allowed: each {} to {})",
                                        where_prefix(where), k.name, item, r.lo, r.hi));
      }
      return fmt::format("{}", fmt::join(out, ","));
    }
    default:
      return raw;
  }
}
}  // namespace

std::string canonical_key(const std::string& key, const std::string& where) {
  std::string k = key;
  for (auto& c : k)
    if (c == '_') c = '-';
  if (!find_key(k))
    throw ConfigError(fmt::format("{}unknown key '{}' (allowed: {})", where_prefix(where), key,
                                  all_key_names()));
  return k;
}

RunConfig::RunConfig() {
  for (const auto& k : run_keys()) v_[k.name] = k.def;
}

void RunConfig::set(const std::string& key, const std::string& value, const std::string& where) {
  const std::string k = canonical_key(key, where);
  v_[k] = canonical_value(*find_key(k), value, where);
}

const std::string& RunConfig::get(const std::string& key) const { return v_.at(key); }

std::string RunConfig::canonical() const {
  std::string s;
  for (const auto& k : run_keys())
    if (k.identity && (k.id_at_default || v_.at(k.name) != k.def)) s += fmt::format("{}={}\n", k.name, v_.at(k.name));
  return s;
}

std::string RunConfig::run_id() const { return sha256_hex(canonical()).substr(0, 16); }

TrainSpec resolve(const RunConfig& c) {
  std::vector<std::string> problems;
  TrainSpec t;
  auto num = [&](const char* k) { return std::stod(c.get(k)); };
  auto integer = [&](const char* k) { return std::stol(c.get(k)); };
  auto check = [&](auto&& fn) {
    try {
      fn();
    } catch (const ConfigError& e) {
      problems.push_back(e.what());
    }
  };
  auto require = [&](bool ok, const char* key, const std::string& msg) {
    if (!ok) problems.push_back(fmt::format("{}: {}", key, msg));
  };

  t.dataset = c.get("dataset");
  t.model.model = c.get("model");
  check([&] { default_widths(t.model.model); });
  {  // canonical text is "128,64": integers joined by commas, or empty
    std::stringstream ss(c.get("widths"));
    std::string item;
    while (std::getline(ss, item, ',')) t.model.widths.push_back(std::stoi(item));
  }
  check([&] { t.model.activation = parse_activation(c.get("activation")); });
  check([&] { t.model.norm.kind = parse_norm_kind(c.get("norm")); });
  t.model.placement = c.get("norm-placement");
  require(t.model.placement == "before" || t.model.placement == "after", "norm-placement",
          fmt::format("unknown value '{}' (allowed: before, after)", t.model.placement));
  t.model.norm.groups = int(integer("groups"));
  require(t.model.norm.groups >= 1, "groups", "must be >= 1");
  check([&] { t.model.norm.momentum = parse_bn_momentum(c.get("bn-momentum")); });
  t.model.norm.eps = num("eps");
  require(t.model.norm.eps > 0, "eps", fmt::format("{} must be > 0", t.model.norm.eps));
  t.model.norm.affine = c.get("affine") == "true";
  t.model.dropout = num("dropout");
  require(t.model.dropout >= 0 && t.model.dropout < 1, "dropout",
          fmt::format("{} is not a drop probability (allowed: 0 <= p < 1)", t.model.dropout));
  t.model.norm.ghost_batch = int(integer("ghost-batch"));
  require(t.model.norm.ghost_batch >= 1, "ghost-batch",
          fmt::format("{} is not a chunk size (allowed: an integer >= 1)", t.model.norm.ghost_batch));
  t.model.norm.renorm_rmax = num("renorm-rmax");
  require(t.model.norm.renorm_rmax >= 1, "renorm-rmax",
          fmt::format("{} is not allowed (allowed: >= 1)", t.model.norm.renorm_rmax));
  t.model.norm.renorm_dmax = num("renorm-dmax");
  require(t.model.norm.renorm_dmax >= 0, "renorm-dmax",
          fmt::format("{} is not allowed (allowed: >= 0)", t.model.norm.renorm_dmax));
  t.model.norm.renorm_warmup = integer("renorm-warmup");
  require(t.model.norm.renorm_warmup >= 0, "renorm-warmup",
          fmt::format("{} is not allowed (allowed: steps >= 0)", t.model.norm.renorm_warmup));
  t.model.norm.noise_mean = num("noise-mean");
  require(t.model.norm.noise_mean >= 0, "noise-mean",
          fmt::format("{} is not allowed (allowed: >= 0)", t.model.norm.noise_mean));
  t.model.norm.noise_scale = num("noise-scale");
  require(t.model.norm.noise_scale >= 1, "noise-scale",
          fmt::format("{} is not allowed (allowed: >= 1)", t.model.norm.noise_scale));
  check([&] { t.init = parse_init(c.get("init")); });

  t.optim.kind = c.get("optimizer");
  t.optim.momentum = num("momentum");
  t.optim.nesterov = c.get("nesterov") == "true";
  t.optim.weight_decay = num("weight-decay");
  t.optim.clip_norm = num("clip-norm");
  check([&] { validate(t.optim); });
  t.schedule.kind = c.get("schedule");
  t.schedule.step_size = integer("lr-step-size");
  t.schedule.gamma = num("lr-gamma");
  t.schedule.warmup = integer("warmup");
  check([&] { validate(t.schedule); });

  t.lr = num("lr");
  require(t.lr > 0, "lr", fmt::format("{} must be > 0", t.lr));
  t.batch_size = int(integer("batch-size"));
  require(t.batch_size >= 1, "batch-size", fmt::format("{} must be >= 1", t.batch_size));
  t.epochs = num("epochs");
  t.steps = integer("steps");
  require(t.steps >= 0, "steps", "must be >= 0");
  require(t.steps > 0 || t.epochs > 0, "epochs", "must be > 0 when steps is 0");
  require(t.epochs <= double(kMaxSteps), "epochs",
          fmt::format("{} is more than the limit of {} steps", c.get("epochs"), kMaxSteps));
  t.eval_every = integer("eval-every");
  require(t.eval_every >= 0, "eval-every", "must be >= 0");
  t.eval_subset = int(integer("eval-subset"));
  require(t.eval_subset >= 0, "eval-subset", "must be >= 0");
  t.eval_batch = int(integer("eval-batch"));
  require(t.eval_batch >= 1, "eval-batch", "must be >= 1");
  const std::string es = c.get("eval-stats");
  require(es == "running" || es == "batch" || es == "precise", "eval-stats",
          fmt::format("unknown value '{}' (allowed: running, batch, precise)", es));
  t.eval_batch_stats = es == "batch";
  t.eval_precise = es == "precise";
  require(!(t.eval_precise && c.get("model") == "rnn"), "eval-stats",
          "precise is not available for rnn, whose batch norm keeps statistics per time step (allowed: running, batch)");
  const std::string eo = c.get("eval-order");
  require(eo == "stored" || eo == "shuffled", "eval-order",
          fmt::format("unknown value '{}' (allowed: stored, shuffled)", eo));
  t.eval_shuffled = eo == "shuffled";
  t.precise_batches = int(integer("precise-batches"));
  require(t.precise_batches >= 1, "precise-batches",
          fmt::format("{} is not allowed (allowed: an integer >= 1)", t.precise_batches));
  {
    std::stringstream ss(c.get("stat-batches"));
    std::string item;
    while (std::getline(ss, item, ',')) t.stat_batches.push_back(std::stoi(item));
  }
  for (int b : t.stat_batches)
    require(b >= 2, "stat-batches", fmt::format("{} must be >= 2", b));
  t.stat_draws = int(integer("stat-draws"));
  require(t.stat_draws >= 1, "stat-draws", "must be >= 1");
  t.target_acc = num("target-acc");
  require(t.target_acc >= 0 && t.target_acc <= 1, "target-acc", "must be in [0, 1]");
  t.diverge_factor = num("diverge-factor");
  require(t.diverge_factor > 1, "diverge-factor", "must be > 1");
  t.seed = uint64_t(std::stoull(c.get("seed")));
  t.threads = int(integer("threads"));
  require(t.threads >= 1, "threads", "must be >= 1");

  if (!problems.empty()) throw ConfigError(fmt::format("{}", fmt::join(problems, "\n")));
  return t;
}

}  // namespace normlab
