// The key schema (train/key_schema.h): every key has a complete spec, each type's
// parser refuses trailing text, out-of-range values and wrong types, choices
// agree with the parsers that use them, and canonical text is unchanged.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core/errors.h"
#include "core/parse_number.h"
#include "nn/activation.h"
#include "nn/model.h"
#include "nn/norm_layers.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "train/config_file.h"
#include "train/key_schema.h"
#include "train/run_config.h"

using namespace normlab;

namespace {
std::string refusal(const KeySpec& k, const std::string& raw) {
  try {
    check_value(k, raw, "W");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
const KeySpec& spec(const char* name) { return *find_run_key(name); }
}  // namespace

TEST_CASE("every key has a complete spec and its default passes it unchanged") {
  std::set<std::string> names;
  for (const auto* table : {&run_keys(), &meta_keys(), &random_keys()})
    for (const auto& k : *table) {
      CAPTURE(k.name);
      CHECK(names.insert(std::string(table == &run_keys() ? "" : "meta.") + k.name).second);
      CHECK(std::string(k.help).size() > 0);
      CHECK(std::string(k.name).find('_') == std::string::npos);
      if (k.type == KeyType::choice) CHECK(!k.choices.empty());
      if (k.type != KeyType::choice) CHECK(k.choices.empty());
      if (table == &run_keys() || std::string(k.def) != "0") CHECK(check_value(k, k.def, "") == k.def);
    }
  // Every option of train is a run key, in the CSV column order of the results.
  CHECK(run_keys().front().name == std::string("dataset"));
  CHECK(run_keys().size() == 50);
  CHECK(find_run_key("eval_every") == find_run_key("eval-every"));
  CHECK(find_run_key("nope") == nullptr);
}

TEST_CASE("choices agree with the parsers that use them") {
  for (const auto& c : spec("norm").choices) CHECK_NOTHROW(parse_norm_kind(c));
  for (const auto& c : spec("activation").choices) CHECK_NOTHROW(parse_activation(c));
  for (const auto& c : spec("model").choices) CHECK_NOTHROW(default_widths(c));
  for (const auto& c : spec("zero-init-residual").choices) CHECK_NOTHROW(parse_zero_init_residual(c));
  for (const auto& c : spec("optimizer").choices) {
    OptimConfig o;
    o.kind = c;
    CHECK_NOTHROW(validate(o));
  }
  for (const auto& c : spec("schedule").choices) {
    ScheduleConfig s;
    s.kind = c;
    CHECK_NOTHROW(validate(s));
  }
  CHECK(refusal(spec("norm"), "Batch").find("allowed: none, batch, layer") != std::string::npos);
}

TEST_CASE("integers: whole text, in range, never clamped") {
  const KeySpec& seed = spec("seed");
  CHECK(check_value(seed, "+7", "") == "7");
  CHECK(check_value(seed, "9223372036854775807", "") == "9223372036854775807");
  for (const char* bad : {"18446744073709551615", "9223372036854775808", "-1"})
    CHECK(refusal(seed, bad).find("out of range (allowed: 0 to 9223372036854775807)") != std::string::npos);
  for (const char* bad : {"7x", "99999999999999999999999abc", " 7", "7 ", "", "0x10", "1e3", "7.0", "+", "--1"})
    CHECK(refusal(seed, bad).find("not an integer") != std::string::npos);
  CHECK(refusal(spec("groups"), "0").find("W: groups: '0' is out of range (allowed: 1 to 2147483647)") == 0);
  CHECK(refusal(spec("steps"), "1000000000001").find("0 to 1000000000000") != std::string::npos);
  CHECK(refusal(spec("threads"), "257").find("1 to 256") != std::string::npos);
  CHECK_THROWS_AS(parse_integer("2147483648", 0, 2147483647, "x"), ConfigError);
}

TEST_CASE("numbers: finite, whole text, in range; canonical text as before") {
  CHECK(check_value(spec("lr"), "0.10", "") == "0.1");
  CHECK(check_value(spec("eps"), "0.00001", "") == "1e-05");
  CHECK(check_value(spec("epochs"), "2", "") == "2");
  for (const char* bad : {"0.1x", "", " 0.1", "abc"})
    CHECK(refusal(spec("lr"), bad).find("not a number") != std::string::npos);
  for (const char* bad : {"inf", "nan", "-inf"})
    CHECK(refusal(spec("lr"), bad).find("not a finite number") != std::string::npos);
  CHECK(refusal(spec("lr"), "1e400").find("out of range") != std::string::npos);
  CHECK(refusal(spec("lr"), "0").find("allowed: lr > 0") != std::string::npos);
  CHECK(refusal(spec("dropout"), "1").find("allowed: 0 <= dropout < 1") != std::string::npos);
  CHECK(refusal(spec("epochs"), "1e12").find("the limit of 1000000000000 steps") != std::string::npos);
  CHECK(refusal(spec("epochs"), "-1").find("out of range") != std::string::npos);
}

TEST_CASE("booleans, lists and checked text") {
  CHECK(check_value(spec("nesterov"), "yes", "") == "true");
  CHECK(check_value(spec("affine"), "0", "") == "false");
  CHECK(refusal(spec("affine"), "maybe").find("true or false") != std::string::npos);
  CHECK(check_value(spec("widths"), "128, 64", "") == "128,64");
  CHECK(check_value(spec("widths"), "", "") == "");
  for (const char* bad : {"128,", "128,,64", "128x", "0", "4294967312"})
    CHECK(refusal(spec("widths"), bad).find("widths") != std::string::npos);
  CHECK(refusal(spec("stat-batches"), "1").find("out of range") != std::string::npos);
  for (const char* bad : {"constant:inf", "normal:nan", "uniform:1e999", "constant:1x", "bogus"})
    CHECK(refusal(spec("init"), bad).find("W: init:") == 0);
  CHECK(refusal(spec("bn-momentum"), "nan").find("bn-momentum") != std::string::npos);
  CHECK(refusal(spec("dataset"), "blobs:n=1x").find("W: ") == 0);
}

TEST_CASE("RunConfig::set goes through the spec; canonical text and run_id are unchanged") {
  RunConfig c;
  CHECK_THROWS_AS(c.set("seed", "18446744073709551615"), ConfigError);
  CHECK_THROWS_AS(c.set("init", "constant:inf"), ConfigError);
  CHECK_THROWS_AS(c.set("norm", "weird"), ConfigError);
  c.set("lr", "0.10");
  c.set("batch_size", "+32");
  CHECK(c.get("lr") == "0.1");
  CHECK(c.get("batch-size") == "32");
  CHECK(c.number("lr") == 0.1);
  CHECK(c.integer("batch-size") == 32);
  // The run id of the defaults, as results written before the schema recorded it.
  CHECK(RunConfig().canonical().find("dataset=mnist\nmodel=mlp\nwidths=\n") == 0);
  CHECK(RunConfig().canonical().find("dropout=") == std::string::npos);  // id_at_default = false
}

TEST_CASE("TOML values must have the key's type") {
  const auto t = parse_toml_text("a = \"yes\"\nb = 32.0\nc = 1\nd = [1, 2]\ne = \"1,2\"\nf = 0.1\n", "f.toml");
  CHECK_THROWS_WITH_AS(toml_key_text(spec("nesterov"), *t.get("a"), "f.toml:1:5"),
                       doctest::Contains("nesterov: 'yes' is a string; expected true or false"), ConfigError);
  CHECK_THROWS_AS(toml_key_text(spec("batch-size"), *t.get("b"), "w"), ConfigError);
  CHECK(toml_key_text(spec("lr"), *t.get("c"), "w") == "1");
  CHECK_THROWS_AS(toml_key_text(spec("norm"), *t.get("c"), "w"), ConfigError);
  CHECK(toml_key_text(spec("widths"), *t.get("d"), "w") == "1,2");
  CHECK(toml_key_text(spec("widths"), *t.get("e"), "w") == "1,2");
  CHECK(toml_key_text(spec("bn-momentum"), *t.get("f"), "w") == "0.1");
  CHECK_THROWS_AS(toml_key_text(*find_meta_key("description"), *t.get("c"), "w"), ConfigError);
  CHECK_THROWS_AS(toml_key_text(*find_meta_key("lr_scale_with_batch"), *t.get("a"), "w"), ConfigError);
}

TEST_CASE("control characters are named") {
  CHECK_THROWS_WITH_AS(refuse_control_chars("short\ntouch X", "--partition"),
                       doctest::Contains("--partition: the value holds a control character (byte 0x0a)"), ConfigError);
  CHECK_THROWS_AS(refuse_control_chars(std::string("a\0b", 3), "x"), ConfigError);
  CHECK_THROWS_AS(refuse_control_chars("a\rb", "x"), ConfigError);
  CHECK_NOTHROW(refuse_control_chars("a b$(c)`d`'\"", "x"));
}

// Each condition read from the code that uses the key: the key has an effect exactly
// where the model, norm, optimizer or schedule code reads it.
TEST_CASE("a key's condition: where it has an effect, and train's refusal of a given key that has none") {
  RunConfig c;
  auto applies = [&](const char* key) { return key_applies(*find_run_key(key), c.values()); };
  // Always: keys with no condition.
  for (const char* k : {"lr", "dataset", "widths", "batch-size", "seed", "weight-decay", "warmup", "norm"}) {
    CAPTURE(k);
    CHECK(*find_run_key(k)->applies.when == '\0');
    CHECK(applies(k));
  }
  // Steps applied in order to one run, each followed by the keys that now do / do not apply.
  struct Step {
    const char *key, *value;
    std::vector<const char*> yes, no;
  };
  const Step steps[] = {
      {"norm", "none", {"epochs", "eval-count", "dropout", "activation"}, {"groups", "eps", "momentum", "depth"}},
      {"norm", "group", {"groups", "eps", "affine", "norm-placement"}, {"bn-momentum"}},
      {"optimizer", "adam", {}, {"momentum", "nesterov"}},  // Adam's moments are not this key
      {"optimizer", "momentum", {"momentum", "nesterov"}, {}},
      {"model", "rnn", {}, {"activation", "dropout", "depth"}},
      {"model", "resnet", {"depth", "zero-init-residual", "activation"}, {"dropout"}},
      {"steps", "10", {}, {"epochs"}},
      {"eval-every", "5", {}, {"eval-count"}},
      {"schedule", "constant", {}, {"lr-gamma", "lr-step-size"}},
      {"schedule", "step", {"lr-gamma", "lr-step-size"}, {"precise-batches", "stat-draws"}},
      {"eval-stats", "precise", {"precise-batches"}, {}},
  };
  for (const Step& s : steps) {
    c.set(s.key, s.value);
    for (const char* k : s.yes) {
      CAPTURE(s.key); CAPTURE(s.value); CAPTURE(k);
      CHECK(applies(k));
    }
    for (const char* k : s.no) {
      CAPTURE(s.key); CAPTURE(s.value); CAPTURE(k);
      CHECK_FALSE(applies(k));
    }
  }
  for (const char* n : {"batch", "ghost-batch", "batch-renorm", "noisy-batch"}) {
    CAPTURE(n);
    c.set("norm", n);
    CHECK(applies("bn-momentum"));
    CHECK_FALSE(applies("groups"));
    CHECK(applies("ghost-batch") == (std::string(n) == "ghost-batch"));
    CHECK(applies("renorm-rmax") == (std::string(n) == "batch-renorm"));
    CHECK(applies("renorm-warmup") == (std::string(n) == "batch-renorm"));
    CHECK(applies("noise-scale") == (std::string(n) == "noisy-batch"));
  }
  // stat-batches measures the BatchNorm layers of a chain model: not the rnn's per-step norm.
  c.set("norm", "batch");
  for (const char* m : {"mlp", "cnn", "cnn-small", "cnn-deep", "rnn"}) {
    c.set("model", m);
    CHECK(applies("stat-batches") == (std::string(m) != "rnn"));
  }
  c.set("norm", "layer");
  CHECK_FALSE(applies("stat-batches"));
  CHECK(condition_keys(*find_run_key("stat-batches")) == std::vector<std::string>{"norm", "model"});
  CHECK(condition_keys(*find_run_key("eval-count")) == std::vector<std::string>{"eval-every"});
  CHECK(not_applied_text(*find_run_key("stat-batches"), c.values()).find("this run has norm = layer, model = rnn") !=
        std::string::npos);
  // Every condition names the keys it reads, so a message can show them.
  for (const auto& k : run_keys()) {
    CAPTURE(k.name);
    CHECK((*k.applies.when == '\0') == (k.applies.test == nullptr));
    if (k.applies.test) CHECK_FALSE(condition_keys(k).empty());
  }

  // train: what was given and is not used is refused, each named where it was given.
  RunConfig r;
  r.set("norm", "batch");
  r.set("groups", "4");
  r.set("lr", "0.5");
  const auto problems = ignored_keys(r, {{"groups", "run.toml:3:10"}, {"lr", "--lr"}, {"norm", "--norm"}});
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] == "run.toml:3:10: groups: given, but it applies only when norm = group, and this run has "
                       "norm = batch (allowed: remove it, or change norm)");
  CHECK(ignored_keys(r, {{"depth", "--depth"}})[0].rfind("--depth: given, but", 0) == 0);
}
