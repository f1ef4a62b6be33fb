// Experiment files -> run lists: grid order, seeds, [[exclude]]/[[include]],
// --set, profiles, lr scaling with the batch, random search, run identity.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "data_test_util.h"
#include "core/errors.h"
#include "sweep/experiment.h"
#include "sweep/scheduler.h"

using namespace normlab;
using normlab::testing::ScratchDir;

namespace {

const char* kData = "dataset = \"blobs:n=200,test=100,dim=8,classes=3,seed=1\"\n";

// Writes `text` to DIR/NAME and loads it.
Experiment load(const ScratchDir& dir, const std::string& text, const ExperimentOptions& opt = {},
                const std::string& name = "exp.toml") {
  const std::string path = dir / name;
  std::ofstream(path) << text;
  return load_experiment(path, opt);
}

std::vector<std::string> column(const Experiment& ex, const std::string& key) {
  std::vector<std::string> out;
  for (const auto& r : ex.runs) out.push_back(r.get(key));
  return out;
}

}  // namespace

TEST_CASE("sweep: grid count and order, first key slowest, seeds fastest") {
  ScratchDir d("sweep-grid-order");
  // File order is lr before norm; the grid follows run_keys() order (norm before lr).
  const auto ex = load(d, std::string(kData) +
                              "lr = [0.1, 0.2, 0.3]\n"
                              "norm = [\"none\", \"batch\"]\n"
                              "seeds = 2\n");
  REQUIRE(ex.runs.size() == 2 * 3 * 2);
  CHECK(ex.name == "exp");
  const std::vector<std::string> norms = {"none", "batch"}, lrs = {"0.1", "0.2", "0.3"};
  for (std::size_t i = 0; i < ex.runs.size(); ++i) {
    CAPTURE(i);
    CHECK(ex.runs[i].get("norm") == norms[i / 6]);
    CHECK(ex.runs[i].get("lr") == lrs[(i / 2) % 3]);
    CHECK(ex.runs[i].get("seed") == std::to_string(i % 2));
    CHECK(ex.runs[i].get("dataset") == "blobs:n=200,test=100,dim=8,classes=3,seed=1");
  }
  // Keys not given keep their defaults.
  CHECK(ex.runs[0].get("batch-size") == "64");
  CHECK(ex.runs[0].get("optimizer") == "sgd");
}

TEST_CASE("sweep: name, multi-line lists, comments and underscore aliases") {
  ScratchDir d("sweep-grid-syntax");
  const auto ex = load(d, std::string(kData) +
                              "name = \"my-study\"\n"
                              "description = \"free text\"\n"
                              "batch_size = [\n"
                              "  16,   # small\n"
                              "  32,\n"
                              "]\n"
                              "eval_every = 5\n");
  CHECK(ex.name == "my-study");
  CHECK(column(ex, "batch-size") == std::vector<std::string>{"16", "32"});
  CHECK(column(ex, "eval-every") == std::vector<std::string>{"5", "5"});
}

TEST_CASE("sweep: seeds as a count, as a list, and the default") {
  ScratchDir d("sweep-grid-seeds");
  CHECK(column(load(d, std::string(kData) + "seeds = 3\n"), "seed") ==
        std::vector<std::string>{"0", "1", "2"});
  CHECK(column(load(d, std::string(kData) + "seeds = [5, 9, 2]\n"), "seed") ==
        std::vector<std::string>{"5", "9", "2"});
  CHECK(column(load(d, std::string(kData)), "seed") == std::vector<std::string>{"0"});
  // A repeated seed is refused (it was silently one run; test_sweep_bad_input has the message).
  CHECK_THROWS_AS(load(d, std::string(kData) + "seeds = [1, 1]\n"), ConfigError);
}

TEST_CASE("sweep: [[exclude]] drops the combinations matching every key given") {
  ScratchDir d("sweep-grid-exclude");
  const std::string grid = std::string(kData) +
                           "norm = [\"none\", \"batch\", \"layer\"]\n"
                           "lr = [0.1, 1.0]\n";
  const auto one = load(d, grid + "[[exclude]]\nnorm = \"none\"\nlr = 1.0\n");
  REQUIRE(one.runs.size() == 5);
  for (const auto& r : one.runs) CHECK_FALSE((r.get("norm") == "none" && r.get("lr") == "1"));

  // A list in an exclude matches any of its values; several excludes add up.
  const auto many = load(d, grid +
                                "[[exclude]]\nnorm = [\"none\", \"batch\"]\nlr = 1.0\n"
                                "[[exclude]]\nnorm = \"layer\"\nlr = 0.1\n");
  CHECK(many.runs.size() == 3);
  CHECK(column(many, "norm") == std::vector<std::string>{"none", "batch", "layer"});
  CHECK(column(many, "lr") == std::vector<std::string>{"0.1", "0.1", "1"});

  // An exclude on one key drops every run with that value, whatever the seed.
  const auto by_norm = load(d, grid + "seeds = 2\n[[exclude]]\nnorm = \"batch\"\n");
  CHECK(by_norm.runs.size() == 2 * 2 * 2);
}

TEST_CASE("sweep: [[include]] adds combinations after the grid, other axes expanded") {
  ScratchDir d("sweep-grid-include");
  const auto ex = load(d, std::string(kData) +
                              "norm = [\"batch\", \"layer\"]\n"
                              "lr = [0.1, 0.2]\n"
                              "[[include]]\n"
                              "norm = \"group\"\n"
                              "groups = 2\n"
                              "[[include]]\n"   // partly in the grid: only its new run is added
                              "norm = \"batch\"\n"
                              "lr = [0.1, 0.3]\n");
  REQUIRE(ex.runs.size() == 4 + 2 + 1);
  CHECK(column(ex, "norm") ==
        std::vector<std::string>{"batch", "batch", "layer", "layer", "group", "group", "batch"});
  CHECK(column(ex, "lr") == std::vector<std::string>{"0.1", "0.2", "0.1", "0.2", "0.1", "0.2", "0.3"});
  CHECK(column(ex, "groups") == std::vector<std::string>{"8", "8", "8", "8", "2", "2", "8"});
  std::set<std::string> ids;
  for (const auto& r : ex.runs) ids.insert(r.run_id());
  CHECK(ids.size() == ex.runs.size());
  // A row wholly in the grid (or wholly excluded) adds nothing: refused with its position, not ignored.
  for (const char* row : {"[[include]]\nnorm = \"batch\"\nlr = 0.1\n",
                          "[[exclude]]\nlr = 0.5\n[[include]]\nnorm = \"batch\"\nlr = 0.5\n"}) {
    CAPTURE(row);
    try {
      load(d, std::string(kData) + "norm = [\"batch\", \"layer\"]\nlr = [0.1, 0.2]\n" + row);
      FAIL("an [[include]] row that adds no run was accepted");
    } catch (const ConfigError& e) {
      CHECK(std::string(e.what()).find("[[include]] adds no run") != std::string::npos);
      CHECK(std::string(e.what()).find("exp.toml:") != std::string::npos);
    }
  }
}

TEST_CASE("sweep: an [[include]] row with an effect under another profile only is kept") {
  ScratchDir d("sweep-grid-include-profile");
  // Under the default profile the row repeats the grid's layer runs; under full (batch
  // alone) it adds them. Kept under both, as an [[exclude]] row for another profile is.
  const std::string text = std::string(kData) + "norm = [\"batch\", \"layer\"]\nlr = [0.1, 0.2]\n"
                           "[[include]]\nnorm = \"layer\"\n[profile.full]\nnorm = \"batch\"\n";
  CHECK(load(d, text).runs.size() == 4);
  ExperimentOptions full;
  full.profile = "full";
  const auto ex = load(d, text, full);
  CHECK(column(ex, "norm") == std::vector<std::string>{"batch", "batch", "layer", "layer"});
  // Without effect under both profiles (in the grid under each): refused, the profiles named.
  const std::string none = std::string(kData) + "norm = [\"batch\", \"layer\"]\nlr = [0.1, 0.2]\n"
                           "[[include]]\nnorm = \"batch\"\n[profile.full]\nlr = 0.1\n";
  for (const std::string profile : {"", "full"}) {
    CAPTURE(profile);
    ExperimentOptions o;
    o.profile = profile;
    try {
      load(d, none, o);
      FAIL("an [[include]] row without effect under any profile was accepted");
    } catch (const ConfigError& e) {
      const std::string m = e.what();
      CHECK(m.find("[[include]] adds no run, under any profile of this file (none, full)") != std::string::npos);
      CHECK(m.find("exp.toml:") != std::string::npos);
    }
  }
}

TEST_CASE("sweep: an [[exclude]] row that excludes no run under any profile is refused") {
  ScratchDir d("sweep-grid-exclude-nothing");
  const std::string grid = std::string(kData) + "norm = [\"batch\", \"layer\"]\nlr = [0.1, 0.2]\n";
  const std::string full = "[profile.full]\nlr = [0.1, 0.2, 0.0003]\n";
  auto refused = [&](const std::string& text, const ExperimentOptions& o) {
    try {
      load(d, text, o);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  // No profile lists the value: refused with the row's position and the profiles asked.
  for (const std::string& row : {std::string("[[exclude]]\nlr = 0.5\n"),                    // a value no list has
                                 std::string("[[exclude]]\nnorm = \"group\"\nlr = 0.1\n"),  // a pair never together
                                 std::string("[[exclude]]\nnorm = \"layer\"\nlr = 0.0003\n") + full +
                                     "norm = \"batch\"\n"}) {  // both values, never in one profile's grid
    CAPTURE(row);
    const std::string m = refused(grid + row, {});
    CHECK(m.find("[[exclude]] excludes no run, under any profile of this file") != std::string::npos);
    CHECK(m.find("exp.toml:") != std::string::npos);
  }
  // A row for another profile's values (batch-size's lr 0.0003 for the full profile alone) is
  // kept: under no profile, under the profile that has them, and with --set narrowing the grid.
  const std::string for_full = grid + "[[exclude]]\nnorm = \"layer\"\nlr = 0.0003\n" + full;
  CHECK(refused(for_full, {}).empty());
  ExperimentOptions o;
  o.profile = "full";
  CHECK(load(d, for_full, o).runs.size() == 2 * 3 - 1);
  o.profile = "";
  o.sets = {{"norm", "batch"}};
  CHECK(refused(for_full, o).empty());
}

TEST_CASE("sweep: --set overrides a key, applied last") {
  ScratchDir d("sweep-grid-set");
  const std::string grid = std::string(kData) +
                           "norm = [\"none\", \"batch\"]\n"
                           "lr = [0.1, 0.2, 0.3]\n"
                           "seeds = 2\n"
                           "[profile.quick]\n"
                           "lr = 0.7\n";
  ExperimentOptions o;
  o.sets = {{"lr", "0.05"}, {"batch_size", "16"}};
  auto ex = load(d, grid, o);
  REQUIRE(ex.runs.size() == 2 * 2);
  CHECK(column(ex, "lr") == std::vector<std::string>(4, "0.05"));
  CHECK(column(ex, "batch-size") == std::vector<std::string>(4, "16"));

  o.profile = "quick";  // --set wins over the profile too
  CHECK(column(load(d, grid, o), "lr") == std::vector<std::string>(4, "0.05"));

  ExperimentOptions s;
  s.sets = {{"seeds", "3"}};
  CHECK(load(d, grid, s).runs.size() == 2 * 3 * 3);

  for (const auto& [k, v, needle] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"learning_rate", "0.1", "--set learning_rate: unknown key"},
           {"lr", "fast", "--set lr: lr: 'fast' is not a number"},
           {"seeds", "two", "--set seeds"},
           {"seeds", "0", "--set seeds"}}) {
    ExperimentOptions bad;
    bad.sets = {{k, v}};
    CAPTURE(k);
    CAPTURE(v);
    try {
      load(d, grid, bad);
      FAIL("no error");
    } catch (const ConfigError& e) {
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  }
}

TEST_CASE("sweep: profiles apply their keys on top of the file") {
  ScratchDir d("sweep-grid-profile");
  const std::string grid = std::string(kData) +
                           "norm = [\"none\", \"batch\", \"layer\"]\n"
                           "epochs = 10\n"
                           "seeds = 5\n"
                           "[profile.quick]\n"
                           "epochs = 1\n"
                           "seeds = 2\n"
                           "norm = [\"batch\", \"layer\"]\n"
                           "[profile.full]\n"
                           "epochs = 30\n";
  const auto plain = load(d, grid);
  CHECK(plain.runs.size() == 15);
  CHECK(plain.profile.empty());
  ExperimentOptions q;
  q.profile = "quick";
  const auto quick = load(d, grid, q);
  CHECK(quick.profile == "quick");
  REQUIRE(quick.runs.size() == 4);
  CHECK(column(quick, "epochs") == std::vector<std::string>(4, "1"));
  CHECK(column(quick, "norm") == std::vector<std::string>{"batch", "batch", "layer", "layer"});
  ExperimentOptions f;
  f.profile = "full";
  const auto full = load(d, grid, f);
  CHECK(full.runs.size() == 15);
  CHECK(column(full, "epochs") == std::vector<std::string>(15, "30"));
  CHECK(full.grid_hash != plain.grid_hash);
}

TEST_CASE("sweep: lr_scale_with_batch scales lr linearly from the reference batch") {
  ScratchDir d("sweep-grid-lrscale");
  const auto ex = load(d, std::string(kData) +
                              "batch_size = [16, 64, 256]\n"
                              "lr = [0.1, 0.2]\n"
                              "lr_scale_with_batch = true\n"
                              "lr_reference_batch = 64\n");
  REQUIRE(ex.runs.size() == 6);
  // lr comes before batch-size in run_keys(), so it varies slower.
  CHECK(column(ex, "batch-size") == std::vector<std::string>{"16", "64", "256", "16", "64", "256"});
  CHECK(column(ex, "lr") == std::vector<std::string>{"0.025", "0.1", "0.4", "0.05", "0.2", "0.8"});
  // The default reference batch is 32.
  const auto def = load(d, std::string(kData) +
                               "batch_size = [8, 32, 128]\n"
                               "lr = 0.1\n"
                               "lr_scale_with_batch = true\n");
  CHECK(column(def, "lr") == std::vector<std::string>{"0.025", "0.1", "0.4"});
  // Off by default.
  CHECK(column(load(d, std::string(kData) + "batch_size = [8, 128]\nlr = 0.1\n"), "lr") ==
        std::vector<std::string>{"0.1", "0.1"});
}

TEST_CASE("sweep: random mode draws log-uniform values in range, deterministically") {
  ScratchDir d("sweep-grid-random");
  const std::string base = std::string(kData) + "norm = [\"batch\", \"layer\"]\nseeds = 2\n";
  const std::string rnd = "[random]\nsamples = 6\nseed = 4\nlr = { log_uniform = [1e-3, 1.0] }\n";
  const auto a = load(d, base + rnd);
  REQUIRE(a.runs.size() == 6 * 2 * 2);
  std::set<double> lrs;
  for (const auto& r : a.runs) {
    const double lr = std::stod(r.get("lr"));
    CHECK(lr >= 1e-3);
    CHECK(lr <= 1.0);
    lrs.insert(lr);
  }
  CHECK(lrs.size() == 6);
  // Each draw is crossed with the remaining lists: a draw's runs share its lr.
  CHECK(a.runs[0].get("lr") == a.runs[3].get("lr"));
  CHECK(a.runs[0].get("norm") != a.runs[3].get("norm"));

  const auto b = load(d, base + rnd);
  CHECK(column(a, "lr") == column(b, "lr"));
  CHECK(a.grid_hash == b.grid_hash);
  std::string other = rnd;
  other.replace(other.find("seed = 4"), 8, "seed = 5");
  CHECK(column(load(d, base + other), "lr") != column(a, "lr"));

  // Log-uniform: about half the draws fall below the geometric midpoint 10^-1.5.
  const auto many = load(d, std::string(kData) +
                                "[random]\nsamples = 400\nlr = { log_uniform = [1e-3, 1.0] }\n");
  REQUIRE(many.runs.size() > 380);  // draws that round to the same lr are one run
  int below = 0;
  for (const auto& r : many.runs) below += std::stod(r.get("lr")) < 0.0316227766;
  CHECK(below > 0.4 * double(many.runs.size()));
  CHECK(below < 0.6 * double(many.runs.size()));
  // Uniform ranges too.
  const auto u = load(d, std::string(kData) + "optimizer = \"momentum\"\n[random]\nsamples = 20\n"
                                 "momentum = { uniform = [0.5, 0.9] }\n");
  REQUIRE(u.runs.size() == 20);
  for (const auto& r : u.runs) {
    CHECK(std::stod(r.get("momentum")) >= 0.5);
    CHECK(std::stod(r.get("momentum")) <= 0.9);
  }
}

TEST_CASE("sweep: a key is given once: drawn or listed, and --set once per key") {
  ScratchDir d("sweep-grid-once");
  auto error_of = [&](const std::string& text, const ExperimentOptions& o = {}) -> std::string {
    try {
      load(d, text, o);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string rnd = "[random]\nsamples = 3\nlr = { log_uniform = [1e-3, 1.0] }\n";
  // In the file, a list or a value of a drawn key (in either spelling, or in a profile) is refused.
  for (const char* given : {"lr = [0.1, 0.2]\n", "lr = 0.1\n"}) {
    const std::string e = error_of(std::string(kData) + given + rnd);
    CAPTURE(given);
    CHECK(e.find("random.lr: the key is also given at ") != std::string::npos);
    CHECK(e.find("exp.toml:2:") != std::string::npos);  // where the list or value is
  }
  CHECK(error_of(std::string(kData) + "[random]\nsamples = 3\nbatch_size = { uniform = [8, 64] }\n"
                 "[profile.quick]\nbatch-size = 16\n", [] {
          ExperimentOptions o;
          o.profile = "quick";
          return o;
        }()).find("random.batch_size: the key is also given at") != std::string::npos);
  // An [[exclude]] naming a drawn key would never match: refused.
  CHECK(error_of(std::string(kData) + "norm = [\"batch\", \"none\"]\n[[exclude]]\nlr = 0.1\n" + rnd)
            .find("[[exclude]] names lr, which [random] draws") != std::string::npos);
  // --set is applied last: it wins over a drawn key as over a list.
  ExperimentOptions set;
  set.sets = {{"lr", "0.05"}};
  CHECK(column(load(d, std::string(kData) + rnd, set), "lr") == std::vector<std::string>{"0.05"});
  // The same key twice on the command line, in any spelling, is refused.
  ExperimentOptions twice;
  twice.sets = {{"batch_size", "8"}, {"batch-size", "16"}};
  CHECK(error_of(std::string(kData), twice).find("key 'batch-size' is given twice") != std::string::npos);
  twice.sets = {{"seeds", "2"}, {"seeds", "[1, 2]"}};
  CHECK(error_of(std::string(kData), twice).find("key 'seeds' is given twice") != std::string::npos);
}

TEST_CASE("sweep: run_id is stable and changes exactly when an identity key changes") {
  ScratchDir d("sweep-grid-runid");
  const auto a = load(d, std::string(kData) + "lr = [0.1, 0.2]\nnorm = \"batch\"\n");
  const auto b = load(d, std::string(kData) + "norm = \"batch\"\nlr = [0.10, 0.2]  # same values\n",
                      {}, "other.toml");
  REQUIRE(a.runs.size() == 2);
  CHECK(a.runs[0].run_id() == b.runs[0].run_id());
  CHECK(a.runs[1].run_id() == b.runs[1].run_id());
  CHECK(a.runs[0].run_id() != a.runs[1].run_id());
  CHECK(a.runs[0].run_id().size() == 16);
  CHECK(a.grid_hash == b.grid_hash);
  // The same config built by hand (as `normlab train` does) has the same id.
  RunConfig c;
  c.set("dataset", "blobs:n=200,test=100,dim=8,classes=3,seed=1");
  c.set("norm", "batch");
  c.set("lr", "0.1");
  CHECK(c.run_id() == a.runs[0].run_id());
  // Every identity key counts; threads does not.
  RunConfig t = c;
  t.set("threads", "4");
  CHECK(t.run_id() == c.run_id());
  // Keys added later count only away from their defaults.
  RunConfig o = c;
  o.set("eval-order", "stored");
  CHECK(o.run_id() == c.run_id());
  o.set("eval-order", "shuffled");
  CHECK(o.run_id() != c.run_id());
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"seed", "1"}, {"lr", "0.1000001"}, {"widths", "8"}, {"eps", "1e-3"}, {"init", "he-normal"}}) {
    RunConfig m = c;
    m.set(k, v);
    CAPTURE(k);
    CHECK(m.run_id() != c.run_id());
  }
  const auto changed = load(d, std::string(kData) + "lr = [0.1, 0.3]\nnorm = \"batch\"\n");
  CHECK(changed.runs[0].run_id() == a.runs[0].run_id());
  CHECK(changed.grid_hash != a.grid_hash);
}

TEST_CASE("sweep: widths as one list value or a list of lists") {
  ScratchDir d("sweep-grid-widths");
  const auto one = load(d, std::string(kData) + "widths = [32, 16]\n");
  CHECK(column(one, "widths") == std::vector<std::string>{"32,16"});
  const auto axis = load(d, std::string(kData) + "widths = [[32, 16], [64], [8, 8, 8]]\n");
  CHECK(column(axis, "widths") == std::vector<std::string>{"32,16", "64", "8,8,8"});
  const auto text = load(d, std::string(kData) + "widths = \"32, 16\"\n");
  CHECK(column(text, "widths") == std::vector<std::string>{"32,16"});
}

TEST_CASE("sweep: with more than one job the costliest runs start first; one job keeps grid order") {
  ScratchDir d("sweep-start-order");
  // The cost's closed form (scheduler.h) on an mlp 8 -> 16 -> 3: F = 8*16 + 16*3 = 176 multiply-adds
  // a sample, P = 8*16+16 + 16*3+3 = 195 parameters; 200 training images, evaluated on all
  // 200 (eval_train 4096 > 200) plus the 100 test images.
  const Experiment ex = load(d, std::string(kData) +
                                    "model = \"mlp\"\nwidths = \"16\"\nsteps = [10, 1000, 100]\n"
                                    "batch-size = [4, 32]\neval-every = 1000000\nseeds = 1\n");
  // grid (batch-size, steps), key order: (4,10) (4,1000) (4,100) (32,10) (32,1000) (32,100)
  REQUIRE(ex.runs.size() == 6);
  REQUIRE(column(ex, "steps") == std::vector<std::string>{"10", "1000", "100", "10", "1000", "100"});
  const double F = 176, P = 195;
  // evaluated twice: at step 0 and at the end
  CHECK(run_cost(ex.specs[4]) == doctest::Approx(1000 * (3 * 32 * F + 10 * P) + 2 * 300 * F));
  CHECK(run_cost(ex.specs[0]) == doctest::Approx(10 * (3 * 4 * F + 10 * P) + 2 * 300 * F));
  const std::vector<std::size_t> all = {0, 1, 2, 3, 4, 5};
  CHECK(start_order(ex, all, 1) == all);
  // 1000 steps at batch 4 (4.2M) outweighs 100 at batch 32 (2.0M)
  CHECK(start_order(ex, all, 2) == std::vector<std::size_t>{4, 1, 5, 2, 3, 0});
  CHECK(start_order(ex, {5, 0, 2}, 2) == std::vector<std::size_t>{5, 2, 0});  // a resumed sweep's pending runs
  // A run that cannot set up costs 0 and goes last (it fails when run, as before).
  TrainSpec broken = ex.specs[0];
  broken.dataset = "nope";
  CHECK(run_cost(broken) == 0);
}
