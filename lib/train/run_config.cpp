// Run configuration: canonical text of every key (validated by key_schema),
// the identity hash, and the typed form with its cross-key rules.
#include "train/run_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <limits>
#include <sstream>

#include "core/sha256.h"
#include "core/errors.h"
#include "core/parse_number.h"
#include "data/spec.h"

namespace normlab {

namespace {
std::string all_key_names() {
  std::vector<std::string> n;
  for (const auto& k : run_keys()) n.push_back(k.name);
  return fmt::format("{}", fmt::join(n, ", "));
}

std::string where_prefix(const std::string& where) { return where.empty() ? "" : where + ": "; }
}  // namespace

std::string canonical_key(const std::string& key, const std::string& where) {
  const KeySpec* k = find_run_key(key);
  if (!k)
    throw ConfigError(fmt::format("{}unknown key '{}' (allowed: {})", where_prefix(where), key,
                                  all_key_names()));
  return k->name;
}

RunConfig::RunConfig() {
  for (const auto& k : run_keys()) v_[k.name] = k.def;
}

void RunConfig::set(const std::string& key, const std::string& value, const std::string& where) {
  const std::string k = canonical_key(key, where);
  v_[k] = check_value(*find_run_key(k), value, where);
}

const std::string& RunConfig::get(const std::string& key) const { return v_.at(key); }

// The canonical text was checked by set(), so these parses cannot fail.
double RunConfig::number(const std::string& key) const { return parse_finite(get(key), key, "a number"); }

long long RunConfig::integer(const std::string& key) const {
  return parse_integer(get(key), std::numeric_limits<long long>::min(), std::numeric_limits<long long>::max(), key);
}

bool RunConfig::flag(const std::string& key) const { return get(key) == "true"; }

std::vector<int> RunConfig::integers(const std::string& key) const {
  std::vector<int> out;
  std::stringstream ss(get(key));
  for (std::string item; std::getline(ss, item, ',');) out.push_back(int(parse_integer(item, 0, kMaxInt, key)));
  return out;
}

std::string RunConfig::canonical() const {
  std::string s;
  for (const auto& k : run_keys())
    if (k.identity && (k.id_at_default || v_.at(k.name) != k.def)) s += fmt::format("{}={}\n", k.name, v_.at(k.name));
  return s;
}

std::string RunConfig::run_id() const { return sha256_hex(canonical()).substr(0, 16); }

// Each key's own type, range and choices were checked by set(); what is left
// are the parses into typed values and the rules that involve two keys.
TrainSpec resolve(const RunConfig& c) {
  std::vector<std::string> problems;
  TrainSpec t;
  auto num = [&](const char* k) { return c.number(k); };
  auto integer = [&](const char* k) { return c.integer(k); };
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
  t.model.widths = c.integers("widths");
  check([&] { t.model.activation = parse_activation(c.get("activation")); });
  check([&] { t.model.norm.kind = parse_norm_kind(c.get("norm")); });
  t.model.placement = c.get("norm-placement");
  t.model.norm.groups = int(integer("groups"));
  check([&] { t.model.norm.momentum = parse_bn_momentum(c.get("bn-momentum")); });
  t.model.norm.eps = num("eps");
  t.model.norm.affine = c.flag("affine");
  t.model.dropout = num("dropout");
  t.model.depth = int(integer("depth"));
  check([&] { t.model.zero_init_residual = parse_zero_init_residual(c.get("zero-init-residual")); });
  t.model.norm.ghost_batch = int(integer("ghost-batch"));
  t.model.norm.renorm_rmax = num("renorm-rmax");
  t.model.norm.renorm_dmax = num("renorm-dmax");
  t.model.norm.renorm_warmup = integer("renorm-warmup");
  t.model.norm.noise_mean = num("noise-mean");
  t.model.norm.noise_scale = num("noise-scale");
  check([&] { t.init = parse_init(c.get("init")); });

  t.optim.kind = c.get("optimizer");
  t.optim.momentum = num("momentum");
  t.optim.nesterov = c.flag("nesterov");
  t.optim.weight_decay = num("weight-decay");
  t.optim.clip_norm = num("clip-norm");
  t.scale_hidden = num("scale-hidden");
  if (t.scale_hidden != 1) {
    const std::string m = c.get("model");
    require(m == "mlp" || m == "cnn" || m == "cnn-small" || m == "cnn-deep", "scale-hidden",
            fmt::format("scales the hidden layers of a chain of dense or conv layers, and {} is not one "
                        "(allowed models: mlp, cnn, cnn-small, cnn-deep; or scale-hidden = 1)", m));
    require(t.optim.kind != "adam", "scale-hidden",
            "scales the hidden layers' lr by C^2, which keeps the run the same function only for SGD's step "
            "(allowed optimizers: sgd, momentum; or scale-hidden = 1)");
  }
  check([&] { validate(t.optim); });
  t.schedule.kind = c.get("schedule");
  t.schedule.step_size = integer("lr-step-size");
  t.schedule.gamma = num("lr-gamma");
  t.schedule.warmup = integer("warmup");
  check([&] { validate(t.schedule); });

  t.lr = num("lr");
  t.batch_size = int(integer("batch-size"));
  t.epochs = num("epochs");
  t.steps = integer("steps");
  require(t.steps > 0 || t.epochs > 0, "epochs", "must be > 0 when steps is 0");
  t.eval_every = integer("eval-every");
  t.eval_count = integer("eval-count");
  require(t.eval_every == 0 || t.eval_count == 0, "eval-count",
          fmt::format("spaces the evaluations only when eval-every = 0, and eval-every = {} fixes them "
                      "(allowed: eval-count = 0 with eval-every > 0)", t.eval_every));
  t.eval_subset = int(integer("eval-subset"));
  t.eval_train = int(integer("eval-train"));
  t.eval_batch = int(integer("eval-batch"));
  t.eval_between = c.get("eval-between") == "val" ? EvalBetween::val : EvalBetween::all;
  if (t.eval_between == EvalBetween::val) {
    double val_fraction = 1;  // an unparsable dataset is refused where the dataset is read
    try {
      val_fraction = parse_data_spec(t.dataset).val_fraction;
    } catch (const ConfigError&) {
    }
    require(val_fraction > 0, "eval-between",
            fmt::format("val evaluates the validation split between the first and last points, and dataset '{}' "
                        "has none (allowed: a dataset with val=F, F > 0; or eval-between = all)", t.dataset));
    require(num("target-acc") == 0, "eval-between",
            fmt::format("val evaluates test only at step 0 and the last point, and target-acc = {} reads test "
                        "accuracy at every point (allowed: target-acc = 0 with eval-between = val, or "
                        "eval-between = all)", c.get("target-acc")));
  }
  const std::string es = c.get("eval-stats");
  t.eval_batch_stats = es == "batch";
  t.eval_precise = es == "precise";
  require(!(t.eval_precise && c.get("model") == "rnn"), "eval-stats",
          "precise is not available for rnn, whose batch norm keeps statistics per time step (allowed: running, batch)");
  t.eval_shuffled = c.get("eval-order") == "shuffled";
  const bool blocks = c.get("model") == "resnet" || c.get("model") == "cnn-plain";
  require(!(blocks && !c.get("stat-batches").empty()), "stat-batches",
          fmt::format("measures the batch-norm layers of the top-level chain only, and {} keeps most of its norms "
                      "inside residual blocks (allowed: empty for resnet and cnn-plain)", c.get("model")));
  t.precise_batches = int(integer("precise-batches"));
  t.stat_batches = c.integers("stat-batches");
  t.stat_draws = int(integer("stat-draws"));
  t.landscape = c.flag("landscape");
  t.target_acc = num("target-acc");
  t.diverge_factor = num("diverge-factor");
  t.seed = uint64_t(integer("seed"));
  t.threads = int(integer("threads"));

  if (!problems.empty()) throw ConfigError(fmt::format("{}", fmt::join(problems, "\n")));
  return t;
}

}  // namespace normlab
