// Bad experiment files: every problem is a ConfigError that names FILE:LINE
// (and the column) and the key, and all problems of a file come together.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "data_test_util.h"
#include "core/errors.h"
#include "sweep/experiment.h"
#include "sweep/scheduler.h"

using namespace normlab;
using normlab::testing::ScratchDir;

namespace {

// Lines 1-2 of every file; the line under test is line 3.
const char* kHead =
    "dataset = \"blobs:n=200,test=100,dim=8,classes=3,seed=1\"\n"
    "widths = [32, 16]\n";

struct Failure {
  std::string path, message;
  bool has(const std::string& s) const { return message.find(s) != std::string::npos; }
  // "PATH:LINE:" at the start of some line of the message.
  bool at(int line) const { return has(path + ":" + std::to_string(line) + ":"); }
};

Failure fail(const ScratchDir& dir, const std::string& body, const ExperimentOptions& opt = {}) {
  const std::string path = dir / "bad.toml";
  std::ofstream(path) << kHead << body;
  try {
    load_experiment(path, opt);
  } catch (const ConfigError& e) {
    return {path, e.what()};
  }
  FAIL("no ConfigError for:\n" << body);
  return {path, ""};
}

}  // namespace

TEST_CASE("sweep: bad input: unknown key names file:line:col and the key") {
  ScratchDir d("sweep-bad-unknown");
  const auto f = fail(d, "learning_rate = 0.1\n");
  CHECK(f.has(f.path + ":3:17:"));  // the position of the key's value
  CHECK(f.has("unknown key 'learning_rate'"));
  CHECK(f.has("lr"));  // the allowed keys are listed
}

TEST_CASE("sweep: bad input: wrong type") {
  ScratchDir d("sweep-bad-type");
  auto f = fail(d, "lr = \"fast\"\n");
  CHECK(f.at(3));
  CHECK(f.has("lr: 'fast' is a string; expected a number"));
  f = fail(d, "batch_size = 1.5\n");
  CHECK(f.at(3));
  CHECK(f.has("batch-size: '1.5' is a float; expected an integer"));
  // An element of a list, at its own line.
  f = fail(d, "lr = [\n  0.1,\n  \"x\",\n]\n");
  CHECK(f.has(f.path + ":5:3:"));
  CHECK(f.has("lr: 'x'"));
  f = fail(d, "norm = { kind = \"batch\" }\n");
  CHECK(f.at(3));
  CHECK(f.has("unknown table [norm]"));
}

TEST_CASE("sweep: bad input: empty list") {
  ScratchDir d("sweep-bad-empty");
  auto f = fail(d, "norm = []\n");
  CHECK(f.at(3));
  CHECK(f.has("norm: empty list"));
  f = fail(d, "seeds = []\n");
  CHECK(f.at(3));
  CHECK(f.has("seeds: empty list"));
}

TEST_CASE("sweep: bad input: invalid values name the value's line and the key") {
  ScratchDir d("sweep-bad-values");
  auto f = fail(d, "norm = [\"batch\", \"weird\"]\n");
  CHECK(f.has(f.path + ":3:18: norm: unknown value 'weird' (allowed: none, batch, layer, group, ghost-batch, batch-renorm, noisy-batch)"));
  f = fail(d, "lr = 0\n");
  CHECK(f.has(f.path + ":3:6: lr: '0' is out of range (allowed: lr > 0)"));
  f = fail(d, "lr = [0.1,\n      -0.5]\n");
  CHECK(f.has(f.path + ":4:7: lr: '-0.5' is out of range (allowed: lr > 0)"));
  f = fail(d, "momentum = 1.5\noptimizer = \"momentum\"\n");
  CHECK(f.at(3));
  CHECK(f.has("momentum: '1.5' is out of range (allowed: 0 <= momentum < 1)"));
  f = fail(d, "seeds = -2\n");
  CHECK(f.at(3));
  CHECK(f.has("seeds: -2"));
  f = fail(d, "init = \"magic\"\n");
  CHECK(f.at(3));
  CHECK(f.has("init: unknown scheme 'magic'"));
}

TEST_CASE("sweep: bad input: several problems are reported together") {
  ScratchDir d("sweep-bad-several");
  const auto f = fail(d,
                      "learning_rate = 0.1\n"       // 3: unknown key
                      "batch_size = \"big\"\n"       // 4: wrong type
                      "epochs = []\n"                // 5: empty list
                      "[[exclude]]\n"
                      "nrom = \"batch\"\n");          // 7: unknown key in a table
  CHECK(f.at(3));
  CHECK(f.has("learning_rate"));
  CHECK(f.at(4));
  CHECK(f.has("batch-size: 'big' is a string; expected an integer"));
  CHECK(f.at(5));
  CHECK(f.has("epochs: empty list"));
  CHECK(f.at(7));
  CHECK(f.has("nrom"));
  // Invalid values of different keys in one file, found when runs are resolved.
  const auto v = fail(d, "norm = \"weird\"\nlr = -1\n");
  CHECK(v.has(v.path + ":3:8: norm: unknown value 'weird'"));
  CHECK(v.has(v.path + ":4:6: lr: '-1' is out of range (allowed: lr > 0)"));
}

TEST_CASE("sweep: bad input: TOML syntax error has line:col") {
  ScratchDir d("sweep-bad-syntax");
  auto f = fail(d, "lr = [0.1, 0.2\nnorm = \"batch\"\n");
  CHECK(f.has(f.path + ":4:"));
  f = fail(d, "lr = 0.1\nlr = 0.2\n");  // a key defined twice
  CHECK(f.at(4));
  f = fail(d, "norm = \"batch\n");
  CHECK(f.at(3));
}

TEST_CASE("sweep: bad input: unknown profile names the defined ones") {
  ScratchDir d("sweep-bad-profile");
  ExperimentOptions o;
  o.profile = "huge";
  auto f = fail(d, "lr = 0.1\n[profile.quick]\nepochs = 1\n[profile.full]\nepochs = 9\n", o);
  CHECK(f.has(f.path));
  CHECK(f.has("profile 'huge' is not defined"));
  CHECK(f.has("quick"));
  CHECK(f.has("full"));
  f = fail(d, "lr = 0.1\n", o);
  CHECK(f.has("(defined: none)"));
  // A profile's own keys are checked like the file's.
  o.profile = "quick";
  f = fail(d, "lr = 0.1\n[profile.quick]\nepoch = 1\n", o);
  CHECK(f.at(5));
  CHECK(f.has("unknown key 'epoch'"));
}

TEST_CASE("sweep: bad input: random ranges and unknown tables") {
  ScratchDir d("sweep-bad-random");
  auto f = fail(d, "[random]\nsamples = 4\nlr = { log_uniform = [0, 1] }\n");
  CHECK(f.at(5));
  CHECK(f.has("random.lr"));
  f = fail(d, "[random]\nsamples = 4\nlr = [0.1, 1]\n");
  CHECK(f.at(5));
  CHECK(f.has("random.lr"));
  f = fail(d, "[random]\nsamples = 0\nlr = { uniform = [0.1, 1] }\n");
  CHECK(f.has("random.samples"));
  f = fail(d, "[random]\nsamples = 2\nlrate = { uniform = [0.1, 1] }\n");
  CHECK(f.at(5));
  CHECK(f.has("lrate"));
  f = fail(d, "[sweep]\nlr = 0.1\n");
  CHECK(f.at(3));
  CHECK(f.has("unknown table [sweep]"));
}

TEST_CASE("sweep: bad input: groups that do not divide the channels stop the sweep before any run") {
  ScratchDir d("sweep-bad-groups");
  const std::string path = d / "groups.toml";
  std::ofstream(path) << kHead << "norm = [\"batch\", \"group\"]\ngroups = 5\nlr = [0.1, 0.2]\n";
  const Experiment ex = load_experiment(path);  // every key is valid on its own
  REQUIRE(ex.runs.size() == 4);
  try {
    validate_runs(ex);
    FAIL("validate_runs accepted groups = 5 for widths 32,16");
  } catch (const ConfigError& e) {
    const std::string m = e.what();
    CHECK(m.find(path) != std::string::npos);
    CHECK(m.find("groups") != std::string::npos);
    CHECK(m.find("norm=group") != std::string::npos);
    CHECK(m.find("norm=batch") == std::string::npos);  // only the failing model is named
  }
}

TEST_CASE("sweep: bad input: one key under both spellings names both lines") {
  ScratchDir d("sweep-bad-spellings");
  auto f = fail(d, "batch-size = 16\nbatch_size = [32, 64]\n");
  CHECK(f.has(f.path + ":4:14: batch_size: the same key as batch-size at " + f.path + ":3:14"));
  f = fail(d, "lr_scale_with_batch = true\nlr-scale-with-batch = false\n");
  CHECK(f.at(4));
  CHECK(f.has("lr-scale-with-batch: the same key as lr_scale_with_batch"));
  ExperimentOptions o;
  o.profile = "quick";
  f = fail(d, "lr = 0.1\n[profile.quick]\neval-every = 5\neval_every = 10\n", o);
  CHECK(f.at(6));
  CHECK(f.has("eval_every: the same key as eval-every at " + f.path + ":5:"));
  f = fail(d, "norm = ['batch', 'layer']\n[[exclude]]\nnorm = 'batch'\nbatch-size = 8\nbatch_size = 8\n");
  CHECK(f.at(7));
}

TEST_CASE("sweep: bad input: an experiment name must be one plain directory name") {
  ScratchDir d("sweep-bad-name");
  for (const char* name : {"../../escape", "a/b", "..", ".hidden", ""}) {
    const auto f = fail(d, std::string("name = \"") + name + "\"\n");
    CHECK(f.has(f.path + ":3:8: name: '" + name + "'"));
    CHECK(f.has("without '..' or '/'"));
  }
}

TEST_CASE("sweep: bad input: an experiment file with no keys is refused, not run with defaults") {
  ScratchDir d("sweep-bad-empty-file");
  for (const char* text : {"", "# nothing here\n", "name = \"x\"\ndescription = \"y\"\n"}) {
    const std::string path = d / "empty.toml";
    std::ofstream(path) << text;
    try {
      load_experiment(path);
      FAIL("no ConfigError for an experiment file holding: " << text);
    } catch (const ConfigError& e) {
      CHECK(std::string(e.what()).find(path + ": no keys") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(load_experiment("/dev/null"), ConfigError);
}

TEST_CASE("sweep: bad input: a grid past max_runs is refused before it is expanded") {
  // Found by fuzz_experiment: seeds = 99999999999999 exhausted memory instead.
  ScratchDir d("sweep-bad-max-runs");
  CHECK(fail(d, "seeds = 99999999999999\n").has("seeds: 99999999999999 is more than the limit of 100000 runs"));
  CHECK(fail(d, "[random]\nsamples = 10000000000000\nlr = { uniform = [0.1, 1.0] }\n")
            .has("random.samples: 10000000000000 is more than the limit of 100000 runs"));
  ExperimentOptions small;
  small.max_runs = 100;
  const auto f = fail(d, "lr = [0.1, 0.2, 0.3, 0.4, 0.5]\nseeds = 30\n", small);
  CHECK(f.has("the grid expands to 150 runs (5 combinations x 30 seeds, before [[exclude]]), more than the "
              "limit of 100 runs"));
}

// A given key is never ignored: a key that no run of the grid uses is refused where it
// was given (base, list, profile, [[include]], [random], --set); one that some runs use
// is the grid's crossing and stays.
TEST_CASE("sweep: bad input: a key that no run uses is refused, wherever it was given") {
  ScratchDir d("sweep-bad-unused");
  auto f = fail(d, "norm = ['batch', 'layer']\ngroups = 4\n");
  CHECK(f.has(f.path + ":4:10: groups: given, but no run of this experiment uses it"));
  CHECK(f.has("it applies only when norm = group, and this run has norm = batch"));
  CHECK(f.has("norm = layer"));  // each run's reading, once
  // A list of values, and a key set in a profile.
  f = fail(d, "momentum = [0.5, 0.9]\n");
  CHECK(f.at(3));
  CHECK(f.has("momentum: given, but no run"));
  CHECK(f.has("optimizer = momentum"));
  ExperimentOptions quick;
  quick.profile = "quick";
  f = fail(d, "lr = 0.1\n[profile.quick]\ndepth = 2\n", quick);
  CHECK(f.at(5));
  CHECK(f.has("depth: given, but no run"));
  CHECK(f.has("model = resnet or cnn-plain, and this run has model = mlp"));
  // An [[include]] row whose key its own runs do not use.
  f = fail(d, "norm = 'batch'\n[[include]]\nnorm = 'layer'\nbn_momentum = 0.2\n");
  CHECK(f.at(6));
  CHECK(f.has("bn-momentum: given, but no run"));
  // A drawn key, and --set.
  f = fail(d, "[random]\nsamples = 3\nmomentum = { uniform = [0.5, 0.9] }\n");
  CHECK(f.at(5));
  ExperimentOptions set;
  set.sets = {{"epochs", "3"}};
  f = fail(d, "steps = 10\n", set);
  CHECK(f.has("--set epochs: epochs: given, but no run"));
  CHECK(f.has("steps = 0, and this run has steps = 10"));

  // Used by some runs: the other runs ignore it by the grid's crossing, as documented.
  const std::string path = d / "some.toml";
  std::ofstream(path) << kHead << "norm = ['batch', 'group']\ngroups = 4\noptimizer = ['sgd', 'momentum']\n"
                      << "momentum = 0.5\n";
  const Experiment ex = load_experiment(path);
  CHECK(ex.runs.size() == 4);
}

// The variant a per-key check misses: a key that some runs use, listed, crossed with runs
// that do not use it. Those runs are one training under several run ids.
TEST_CASE("sweep: bad input: runs that differ only in keys they do not use are refused as one training") {
  ScratchDir d("sweep-bad-repeated");
  auto f = fail(d, "norm = ['batch', 'group']\ngroups = [4, 8]\n");
  CHECK(f.has(f.path + ":4:"));  // where groups was given
  CHECK(f.has("are the same training: they differ only in groups = 4 and 8"));
  CHECK(f.has("this run has norm = batch"));
  CHECK(f.has("[[include]]"));
  f = fail(d, "optimizer = ['sgd', 'momentum']\nmomentum = [0.5, 0.9]\nnesterov = [false, true]\n");
  CHECK(f.has("momentum = 0.5 and 0.9"));
  CHECK(f.has("nesterov = false and true"));
  f = fail(d, "steps = [0, 20]\nepochs = [1, 2]\n");
  CHECK(f.has("epochs = 1 and 2"));
  CHECK(f.has("this run has steps = 20"));
  // The same values where they apply: fine.
  const std::string path = d / "include.toml";
  std::ofstream(path) << kHead << "norm = 'batch'\n[[include]]\nnorm = 'group'\ngroups = [4, 8]\n";
  CHECK(load_experiment(path).runs.size() == 3);
}

TEST_CASE("sweep: bad input: a value or seed listed twice is refused, not trained once") {
  // The same value after its canonical form (0.1 and 1e-1), in a grid list, a profile, --set or seeds:
  // before, the second copy's runs were dropped without a word.
  ScratchDir d("sweep-bad-repeated");
  const struct {
    const char* body;
    const char* message;
  } cases[] = {
      {"lr = [0.1, 0.3, 1e-1]\n", ":3:17: lr: 0.1 is listed twice (also at "},
      {"norm = [\"batch\", \"none\", \"batch\"]\n", ":3:26: norm: batch is listed twice"},
      {"batch_size = [32, 64, 32]\n", ":3:23: batch-size: 32 is listed twice"},
      {"seeds = [0, 1, 0]\n", ":3:16: seeds: 0 is listed twice"},
      {"[profile.quick]\nlr = [0.5, 0.50]\n", ":4:12: lr: 0.5 is listed twice"},
  };
  for (const auto& c : cases) {
    const std::string body = c.body;
    CAPTURE(body);
    ExperimentOptions o;
    o.profile = body.find("profile") != std::string::npos ? "quick" : "";
    const auto f = fail(d, body, o);
    CAPTURE(f.message);
    CHECK(f.has(c.message));
    CHECK(f.has("(allowed: list each"));
  }
  ExperimentOptions set;
  set.sets = {{"lr", "[0.01,0.010]"}};
  const auto f = fail(d, "steps = 3\n", set);
  CHECK(f.has("lr: 0.01 is listed twice"));
  // Distinct values are one run each.
  const std::string ok = d / "ok.toml";
  std::ofstream(ok) << kHead << "lr = [0.1, 0.01]\nseeds = [3, 1]\n";
  CHECK(load_experiment(ok).runs.size() == 4);
}
