// The key schema (key_schema.h): one table per kind of key, and the one
// function that turns a value's text into its canonical text or refuses it.
// Canonical text: numbers as fmt prints the double ("{}": shortest round-trip),
// integers in decimal, booleans true|false, lists joined by ",", text as given.
#include "train/key_schema.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/errors.h"
#include "core/parse_number.h"
#include "data/spec.h"
#include "init/init.h"
#include "nn/norm_layers.h"

namespace normlab {

namespace {
void check_dataset(const std::string& v) { parse_data_spec(v); }
void check_init(const std::string& v) { parse_init(v); }
void check_bn_momentum(const std::string& v) { parse_bn_momentum(v); }

constexpr long long kMaxSeed = std::numeric_limits<int64_t>::max();
constexpr const char* kStepLimit = "the limit of 1000000000000 steps";

// The conditions of KeySpec::applies, over a run's canonical values.
bool blocks(const RunValues& r) { return r.at("model") == "resnet" || r.at("model") == "cnn-plain"; }
bool not_rnn(const RunValues& r) { return r.at("model") != "rnn"; }
bool chain(const RunValues& r) {
  const std::string& m = r.at("model");
  return m == "mlp" || m == "cnn" || m == "cnn-small" || m == "cnn-deep";
}
bool any_norm(const RunValues& r) { return r.at("norm") != "none"; }
bool group_norm(const RunValues& r) { return r.at("norm") == "group"; }
bool batch_stats(const RunValues& r) {
  const std::string& n = r.at("norm");
  return n == "batch" || n == "ghost-batch" || n == "batch-renorm" || n == "noisy-batch";
}
bool top_level_bn(const RunValues& r) { return batch_stats(r) && chain(r); }  // BatchNorm layers of the chain
bool ghost(const RunValues& r) { return r.at("norm") == "ghost-batch"; }
bool renorm(const RunValues& r) { return r.at("norm") == "batch-renorm"; }
bool noisy(const RunValues& r) { return r.at("norm") == "noisy-batch"; }
bool momentum_opt(const RunValues& r) { return r.at("optimizer") == "momentum"; }
bool step_schedule(const RunValues& r) { return r.at("schedule") == "step"; }
bool by_epochs(const RunValues& r) { return r.at("steps") == "0"; }
bool spaced_evals(const RunValues& r) { return r.at("eval-every") == "0"; }
bool precise(const RunValues& r) { return r.at("eval-stats") == "precise"; }
bool stat_sizes(const RunValues& r) { return !r.at("stat-batches").empty(); }
}  // namespace

// Fields in declaration order (designated initializers): name, type, def, help,
// choices, range, ints, check, limit, sweep, identity, setup, id_at_default, fixed_at_default, applies.
const std::vector<KeySpec>& run_keys() {
  using T = KeyType;
  static const std::vector<KeySpec> keys = {
      {.name = "dataset", .type = T::text, .def = "mnist",
       .help = "mnist | fashion-mnist | idx:DIR | blobs | teacher | spirals | synthetic-images, with :key=value options",
       .check = check_dataset},
      {.name = "model", .type = T::choice, .def = "mlp",
       .help = "mlp | cnn | cnn-small | cnn-deep | rnn | resnet | cnn-plain (layer lists: docs/usage.md, Models)",
       .choices = {"mlp", "cnn", "cnn-small", "cnn-deep", "rnn", "resnet", "cnn-plain"}},
      {.name = "widths", .type = T::integer_list, .def = "",
       .help = "hidden widths (mlp), conv channels (cnn, cnn-small, cnn-deep), the three stage widths (resnet, cnn-plain) or the hidden width (rnn), comma-separated; empty: the model's default",
       .ints = {1, kMaxInt}},
      {.name = "depth", .type = T::integer, .def = "1",
       .help = "resnet, cnn-plain: blocks per stage n (6n+2 layers deep); refused for other models",
       .ints = {1, 64}, .id_at_default = false,
       .applies = {blocks, "model = resnet or cnn-plain"}},
      {.name = "zero-init-residual", .type = T::choice, .def = "auto",
       .help = "resnet: start each block's last layer at zero (norm2's gamma, or conv2 without a norm: Fixup's zero init); auto = true without a norm, false with one; cnn-plain allows auto, false; refused for other models",
       .choices = {"auto", "true", "false"}, .id_at_default = false,
       .applies = {blocks, "model = resnet or cnn-plain"}},
      {.name = "activation", .type = T::choice, .def = "relu", .help = "relu | sigmoid | tanh",
       .choices = {"relu", "sigmoid", "tanh"},
       .applies = {not_rnn, "model is not rnn (the rnn is tanh)"}},
      {.name = "norm", .type = T::choice, .def = "none",
       .help = "none | batch | layer | group | ghost-batch | batch-renorm | noisy-batch",
       .choices = {"none", "batch", "layer", "group", "ghost-batch", "batch-renorm", "noisy-batch"}},
      {.name = "norm-placement", .type = T::choice, .def = "before", .help = "before | after the activation",
       .choices = {"before", "after"},
       .applies = {any_norm, "norm is not none"}},
      {.name = "groups", .type = T::integer, .def = "8", .help = "group norm: groups per layer (must divide its channels)",
       .ints = {1, kMaxInt},
       .applies = {group_norm, "norm = group"}},
      {.name = "bn-momentum", .type = T::text, .def = "0.1",
       .help = "weight of the new batch statistic (PyTorch form), or keras:0.99 (Keras form)",
       .check = check_bn_momentum,
       .applies = {batch_stats, "norm = batch, ghost-batch, batch-renorm or noisy-batch"}},
      {.name = "eps", .type = T::number, .def = "1e-05", .help = "norm epsilon > 0",
       .range = {.min = 0, .min_open = true},
       .applies = {any_norm, "norm is not none"}},
      {.name = "affine", .type = T::boolean, .def = "true", .help = "learnable gamma/beta in norm layers",
       .applies = {any_norm, "norm is not none"}},
      {.name = "dropout", .type = T::number, .def = "0",
       .help = "inverted dropout after each hidden activation: drop probability, 0 <= p < 1; 0 = off",
       .range = {.min = 0, .max = 1, .max_open = true}, .setup = false, .id_at_default = false,
       .applies = {chain, "model = mlp, cnn, cnn-small or cnn-deep"}},
      {.name = "ghost-batch", .type = T::integer, .def = "32",
       .help = "norm=ghost-batch: samples per statistics chunk >= 1; a batch it does not divide ends with a smaller chunk",
       .ints = {1, kMaxInt}, .id_at_default = false,
       .applies = {ghost, "norm = ghost-batch"}},
      {.name = "renorm-rmax", .type = T::number, .def = "3", .help = "norm=batch-renorm: limit of r, >= 1",
       .range = {.min = 1}, .setup = false, .id_at_default = false,
       .applies = {renorm, "norm = batch-renorm"}},
      {.name = "renorm-dmax", .type = T::number, .def = "5", .help = "norm=batch-renorm: limit of d, >= 0",
       .range = {.min = 0}, .setup = false, .id_at_default = false,
       .applies = {renorm, "norm = batch-renorm"}},
      {.name = "renorm-warmup", .type = T::integer, .def = "0",
       .help = "norm=batch-renorm: steps over which rmax grows from 1 and dmax from 0 to their limits, >= 0",
       .ints = {0, kMaxInt}, .setup = false, .id_at_default = false,
       .applies = {renorm, "norm = batch-renorm"}},
      {.name = "noise-mean", .type = T::number, .def = "0.5",
       .help = "norm=noisy-batch: bound a of the per-step shift distribution, >= 0",
       .range = {.min = 0}, .setup = false, .id_at_default = false,
       .applies = {noisy, "norm = noisy-batch"}},
      {.name = "noise-scale", .type = T::number, .def = "2",
       .help = "norm=noisy-batch: bound b of the per-step scale distribution, >= 1",
       .range = {.min = 1}, .setup = false, .id_at_default = false,
       .applies = {noisy, "norm = noisy-batch"}},
      {.name = "init", .type = T::text, .def = "default",
       .help = "default | zeros | constant:V | normal:STD | uniform:A | xavier-normal | xavier-uniform | he-normal | he-uniform | lecun-normal | orthogonal, each optionally :SCALE",
       .check = check_init},
      {.name = "optimizer", .type = T::choice, .def = "sgd", .help = "sgd | momentum | adam",
       .choices = {"sgd", "momentum", "adam"}},
      {.name = "lr", .type = T::number, .def = "0.1", .help = "learning rate > 0",
       .range = {.min = 0, .min_open = true}, .setup = false},
      {.name = "momentum", .type = T::number, .def = "0.9", .help = "momentum coefficient in [0, 1)",
       .range = {.min = 0, .max = 1, .max_open = true}, .setup = false,
       .applies = {momentum_opt, "optimizer = momentum"}},
      {.name = "nesterov", .type = T::boolean, .def = "false", .help = "Nesterov momentum", .setup = false,
       .applies = {momentum_opt, "optimizer = momentum"}},
      {.name = "weight-decay", .type = T::number, .def = "0", .help = "L2 weight decay >= 0",
       .range = {.min = 0}, .setup = false},
      {.name = "schedule", .type = T::choice, .def = "constant", .help = "constant | step | cosine",
       .choices = {"constant", "step", "cosine"}},
      {.name = "lr-step-size", .type = T::integer, .def = "1000", .help = "step schedule: steps between decays",
       .ints = {1, kMaxSteps}, .setup = false,
       .applies = {step_schedule, "schedule = step"}},
      {.name = "lr-gamma", .type = T::number, .def = "0.1", .help = "step schedule: decay factor > 0",
       .range = {.min = 0, .min_open = true}, .setup = false,
       .applies = {step_schedule, "schedule = step"}},
      {.name = "warmup", .type = T::integer, .def = "0", .help = "linear warmup steps",
       .ints = {0, kMaxSteps}, .setup = false},
      {.name = "clip-norm", .type = T::number, .def = "0", .help = "clip gradients to this global L2 norm; 0 = off",
       .range = {.min = 0}, .setup = false},
      {.name = "scale-hidden", .type = T::number, .def = "1",
       .help = "multiply the starting weights and biases of every dense or conv layer but the output layer by C > 0, and their lr by C^2 (with a norm after each such layer the run is the same function: van Laarhoven 2017); mlp, cnn, cnn-small, cnn-deep under sgd or momentum",
       .range = {.min = 0, .min_open = true}, .id_at_default = false, .fixed_at_default = false},
      {.name = "batch-size", .type = T::integer, .def = "64", .help = "training batch size >= 1", .ints = {1, kMaxInt}},
      // Each epoch is at least one step: more epochs than the step limit never fit under it.
      // A setup key: the steps an epochs value makes are checked against the limit
      // with the training set's size, for each value before a sweep starts.
      {.name = "epochs", .type = T::number, .def = "1",
       .help = "training epochs (fractions allowed), with steps = 0",
       .range = {.min = 0, .max = double(kMaxSteps), .max_open = true}, .limit = kStepLimit,
       .applies = {by_epochs, "steps = 0"}},
      {.name = "steps", .type = T::integer, .def = "0", .help = "training steps; 0 = use epochs",
       .ints = {0, kMaxSteps}, .setup = false},
      {.name = "eval-every", .type = T::integer, .def = "0", .help = "steps between evaluations; 0 = eval-count evenly spaced evaluations per run (about 20 by default)",
       .ints = {0, kMaxSteps}, .setup = false},
      {.name = "eval-count", .type = T::integer, .def = "0",
       .help = "with eval-every = 0: evaluations per run after step 0, one every max(1, T / N) steps of the T (and one at T); 0 = 20",
       .ints = {0, kMaxSteps}, .setup = false, .id_at_default = false, .fixed_at_default = false,
       .applies = {spaced_evals, "eval-every = 0"}},
      {.name = "eval-batch", .type = T::integer, .def = "1000", .help = "batch size for evaluation", .ints = {1, kMaxInt}},
      {.name = "eval-subset", .type = T::integer, .def = "0",
       .help = "evaluate the validation and test splits on their first N images only (a fixed subset, so frequent evaluation is cheap); 0 = whole splits",
       .ints = {0, kMaxInt}, .setup = false, .id_at_default = false},
      {.name = "eval-train", .type = T::integer, .def = "4096",
       .help = "training images evaluated at each evaluation point (their loss and accuracy: the train side of the generalization gap), the first N in eval-order; 0 = the whole training split",
       .ints = {0, kMaxInt}, .setup = false, .id_at_default = false, .fixed_at_default = false},
      {.name = "eval-between", .type = T::choice, .def = "all",
       .help = "splits evaluated at the points between step 0 and the last: all (the training subset, validation and test) | val (validation only, which the plateau and best-lr selection read; test and the training subset at step 0 and the last point only, so test is not looked at during training and each point costs the validation split alone; a diverged run's final test and train metrics are step 0's). val needs a validation split and target-acc = 0",
       .choices = {"all", "val"}, .setup = false, .id_at_default = false, .fixed_at_default = false},
      {.name = "eval-stats", .type = T::choice, .def = "running",
       .help = "batch norm at evaluation: running (its running averages) | batch (each evaluation batch's own statistics) | precise (population statistics recomputed over precise-batches training batches)",
       .choices = {"running", "batch", "precise"}},
      {.name = "precise-batches", .type = T::integer, .def = "100",
       .help = "eval-stats=precise: training batches (of batch-size) the population statistics are computed over, >= 1",
       .ints = {1, kMaxInt}, .setup = false, .id_at_default = false,
       .applies = {precise, "eval-stats = precise"}},
      {.name = "eval-order", .type = T::choice, .def = "stored",
       .help = "order evaluation goes through each split in: stored (consecutive slices in stored order) | shuffled (a fixed permutation of the seed, the same at every evaluation point, so with eval-stats=batch a batch's mates are random; eval-subset and the training subset take its first N)",
       .choices = {"stored", "shuffled"}, .setup = false, .id_at_default = false},
      {.name = "stat-batches", .type = T::integer_list, .def = "",
       .help = "after training, measure each batch-norm input's batch mean/variance error against the training set's at these batch sizes (batchstats.csv), each >= 2; empty: off",
       .ints = {2, kMaxInt},
       .applies = {top_level_bn, "norm = batch, ghost-batch, batch-renorm or noisy-batch, in model = mlp, cnn, cnn-small or cnn-deep"}},
      {.name = "stat-draws", .type = T::integer, .def = "200", .help = "stat-batches: batches drawn per size",
       .ints = {1, kMaxInt}, .setup = false,
       .applies = {stat_sizes, "stat-batches is not empty"}},
      {.name = "landscape", .type = T::boolean, .def = "false",
       .help = "at every evaluation, probe the loss landscape along the gradient of one training batch (the first batch-size training samples, train mode) at 0.5, 1, 2 and 4 times the lr: loss range, gradient change, effective beta-smoothness (runs.csv: their medians over the evaluations after step 0)",
       .setup = false, .id_at_default = false, .fixed_at_default = false},
      {.name = "target-acc", .type = T::number, .def = "0",
       .help = "test accuracy target for steps/seconds-to-target, in [0, 1]; 0 = none",
       .range = {.min = 0, .max = 1}, .setup = false},
      {.name = "diverge-factor", .type = T::number, .def = "1000",
       .help = "diverged when the loss exceeds this multiple of its initial value, > 1",
       .range = {.min = 1, .min_open = true}, .setup = false},
      {.name = "seed", .type = T::integer, .def = "0", .help = "seed for initialization and shuffling",
       .ints = {0, kMaxSeed}, .sweep = Sweep::never, .setup = false},
      {.name = "threads", .type = T::integer, .def = "1",
       .help = "threads for this run (conv layers; results do not depend on it)",
       .ints = {1, kMaxThreads}, .sweep = Sweep::single, .identity = false,
       .setup = false},
  };
  return keys;
}

const std::vector<KeySpec>& meta_keys() {
  using T = KeyType;
  static const std::vector<KeySpec> keys = {
      {.name = "name", .type = T::text, .help = "the experiment's name: the directory results/NAME", .sweep = Sweep::single},
      {.name = "description", .type = T::text, .help = "free text", .sweep = Sweep::single},
      {.name = "lr-scale-with-batch", .type = T::boolean, .def = "false",
       .help = "each run uses lr * batch-size / lr-reference-batch", .sweep = Sweep::single},
      {.name = "lr-reference-batch", .type = T::integer, .def = "32",
       .help = "the batch size lr is given for, with lr-scale-with-batch", .ints = {1, kMaxInt},
       .sweep = Sweep::single},
  };
  return keys;
}

const std::vector<KeySpec>& random_keys() {
  using T = KeyType;
  static const std::vector<KeySpec> keys = {
      {.name = "samples", .type = T::integer, .def = "0",
       .help = "random draws of the [random] keys (limited with the grid's runs: NORMLAB_MAX_RUNS)",
       .ints = {1, kMaxSeed}, .sweep = Sweep::single},
      {.name = "seed", .type = T::integer, .def = "0", .help = "seed of the [random] draws",
       .ints = {0, kMaxSeed}, .sweep = Sweep::single},
  };
  return keys;
}

std::string dashed(const std::string& key) {
  std::string k = key;
  std::replace(k.begin(), k.end(), '_', '-');
  return k;
}

namespace {
const KeySpec* find_in(const std::vector<KeySpec>& keys, const std::string& name) {
  const std::string k = dashed(name);
  for (const auto& s : keys)
    if (k == s.name) return &s;
  return nullptr;
}

std::string bound_text(double v) { return fmt::format("{}", v); }

std::string number_allowed(const KeySpec& k) {
  const NumberRange& r = k.range;
  const bool lo = std::isfinite(r.min), hi = std::isfinite(r.max);
  if (lo && hi)
    return fmt::format("{} {} {} {} {}", bound_text(r.min), r.min_open ? "<" : "<=", k.name,
                       r.max_open ? "<" : "<=", bound_text(r.max));
  if (lo) return fmt::format("{} {} {}", k.name, r.min_open ? ">" : ">=", bound_text(r.min));
  if (hi) return fmt::format("{} {} {}", k.name, r.max_open ? "<" : "<=", bound_text(r.max));
  return "a finite number";
}

std::string canonical_number(const KeySpec& k, const std::string& raw, const std::string& what) {
  const double v = parse_finite(raw, what, number_allowed(k));
  const NumberRange& r = k.range;
  const bool low = r.min_open ? !(v > r.min) : !(v >= r.min);
  const bool high = r.max_open ? !(v < r.max) : !(v <= r.max);
  if (high && k.limit)
    throw ConfigError(fmt::format("{}: '{}' is more than {} (allowed: {})", what, raw, k.limit, number_allowed(k)));
  if (low || high) throw ConfigError(fmt::format("{}: '{}' is out of range (allowed: {})", what, raw, number_allowed(k)));
  return fmt::format("{}", v);
}

std::string canonical_list(const KeySpec& k, const std::string& raw, const std::string& what) {
  std::vector<long long> out;
  if (raw.empty()) return "";
  std::stringstream ss(raw + ",");  // a trailing "," marks the end, so "1," gives an empty last item
  for (std::string item; std::getline(ss, item, ',');) {
    const auto a = item.find_first_not_of(' '), b = item.find_last_not_of(' ');
    item = a == std::string::npos ? "" : item.substr(a, b - a + 1);
    try {
      out.push_back(parse_integer(item, k.ints.min, k.ints.max, what));
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{}, in the list '{}' (allowed: comma-separated integers, each {} to {})",
                                    e.what(), raw, k.ints.min, k.ints.max));
    }
  }
  return fmt::format("{}", fmt::join(out, ","));
}
}  // namespace

const KeySpec* find_run_key(const std::string& name) { return find_in(run_keys(), name); }
const KeySpec* find_meta_key(const std::string& name) { return find_in(meta_keys(), name); }
const KeySpec* find_random_key(const std::string& name) { return find_in(random_keys(), name); }

bool key_applies(const KeySpec& k, const RunValues& run) { return !k.applies.test || k.applies.test(run); }

std::vector<std::string> condition_keys(const KeySpec& k) {
  const std::string when = k.applies.when;
  std::vector<std::pair<std::size_t, std::string>> at;  // the keys the condition names, in its order
  for (const auto& r : run_keys()) {
    const std::string n = r.name;
    for (std::size_t p = when.find(n); p != std::string::npos; p = when.find(n, p + 1)) {
      const bool starts = p == 0 || when[p - 1] == ' ';
      const std::string rest = when.substr(p + n.size(), 4);
      if (starts && (rest.rfind(" = ", 0) == 0 || rest == " is ")) {
        at.emplace_back(p, n);
        break;
      }
    }
  }
  std::sort(at.begin(), at.end());
  std::vector<std::string> keys;
  for (const auto& [p, n] : at) keys.push_back(n);
  return keys;
}

std::string not_applied_text(const KeySpec& k, const RunValues& run) {
  std::vector<std::string> has;
  for (const auto& on : condition_keys(k)) {
    const auto it = run.find(on);
    has.push_back(fmt::format("{} = {}", on, it == run.end() || it->second.empty() ? "\"\"" : it->second));
  }
  return fmt::format("it applies only when {}, and this run has {}", k.applies.when, fmt::join(has, ", "));
}

std::string allowed_text(const KeySpec& k) {
  switch (k.type) {
    case KeyType::text: return k.help;
    case KeyType::choice: return fmt::format("{}", fmt::join(k.choices, ", "));
    case KeyType::number: return number_allowed(k);
    case KeyType::integer: return fmt::format("{} to {}", k.ints.min, k.ints.max);
    case KeyType::boolean: return "true or false";
    case KeyType::integer_list: return fmt::format("integers {} to {}, comma-separated", k.ints.min, k.ints.max);
  }
  return "";
}

std::string check_value(const KeySpec& k, const std::string& raw, const std::string& where) {
  const std::string what = where.empty() ? k.name : where + ": " + k.name;
  switch (k.type) {
    case KeyType::text:
      if (k.check) {
        try {
          k.check(raw);
        } catch (const ConfigError& e) {
          throw ConfigError(where.empty() ? e.what() : where + ": " + e.what());
        }
      }
      return raw;
    case KeyType::choice:
      if (std::find(k.choices.begin(), k.choices.end(), raw) == k.choices.end())
        throw ConfigError(fmt::format("{}: unknown value '{}' (allowed: {})", what, raw, allowed_text(k)));
      return raw;
    case KeyType::number:
      return canonical_number(k, raw, what);
    case KeyType::integer:
      return fmt::format("{}", parse_integer(raw, k.ints.min, k.ints.max, what));
    case KeyType::boolean:
      if (raw == "true" || raw == "1" || raw == "yes") return "true";
      if (raw == "false" || raw == "0" || raw == "no") return "false";
      throw ConfigError(fmt::format("{}: '{}' is not true or false (allowed: true, false)", what, raw));
    case KeyType::integer_list:
      return canonical_list(k, raw, what);
  }
  return raw;
}

}  // namespace normlab
