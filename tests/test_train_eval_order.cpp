// eval-order (train/trainer.h, train/run_config.cpp): stored evaluation is the
// evaluation as it was before the key existed (same run_id, same numbers); shuffled
// evaluation goes through each split in a fixed permutation of the seed, so with
// eval-stats = batch an evaluation batch's mates, hence the accuracy, change.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "init/init.h"
#include "nn/model.h"
#include "tensor/rng.h"
#include "train/trainer.h"

#include "core/errors.h"
#include "train/run_config.h"
#include "train/run_setup.h"

using namespace normlab;

namespace {
// Batch norm evaluated with each batch's own statistics, in batches of 4.
RunConfig tiny(const std::string& order = "") {
  RunConfig c;
  c.set("dataset", "blobs:n=200,test=100,dim=8,classes=3,seed=1");
  c.set("norm", "batch");
  c.set("eval-stats", "batch");
  c.set("eval-batch", "4");
  c.set("steps", "20");
  c.set("batch-size", "16");
  c.set("widths", "16");
  if (!order.empty()) c.set("eval-order", order);
  return c;
}
}  // namespace

TEST_CASE("train eval-order: run ids of configs without the key are unchanged") {
  // Recorded before eval-order existed (`normlab train` with these keys).
  CHECK(tiny().run_id() == "557c1f8255cd4928");
  CHECK(tiny().canonical().find("eval-order") == std::string::npos);
  CHECK(tiny("stored").run_id() == tiny().run_id());
  CHECK(tiny("shuffled").run_id() != tiny().run_id());
  CHECK(tiny("shuffled").canonical().find("eval-order=shuffled\n") != std::string::npos);
}

TEST_CASE("train eval-order: a bad value lists the allowed ones") {
  try {
    resolve(tiny("random"));
    FAIL("no ConfigError");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()).find("eval-order: unknown value 'random' (allowed: stored, shuffled)") !=
          std::string::npos);
  }
  CHECK_FALSE(resolve(tiny()).eval_shuffled);
  CHECK(resolve(tiny("shuffled")).eval_shuffled);
}

TEST_CASE("train eval-order: permutations are uniform draws fixed by (seed, salt)") {
  const auto p = eval_permutation(100, 7, 1);
  std::vector<uint32_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint32_t> id(100);
  std::iota(id.begin(), id.end(), 0u);
  CHECK(sorted == id);  // a permutation
  CHECK(p != id);
  CHECK(eval_permutation(100, 7, 1) == p);
  CHECK(eval_permutation(100, 8, 1) != p);
  CHECK(eval_permutation(100, 7, 2) != p);
  CHECK(eval_permutation(0, 7, 1).empty());
}

TEST_CASE("train eval-order: shuffled evaluation batches change batch-statistics accuracy, reproducibly") {
  const RunResult stored = run_one(resolve(tiny()), 1);
  const RunResult shuffled = run_one(resolve(tiny("shuffled")), 1);
  const RunResult again = run_one(resolve(tiny("shuffled")), 1);
  // Stored: the numbers `normlab train` gave for this config before eval-order existed.
  CHECK(stored.final_test_acc == 0.8);
  CHECK(stored.final_train_acc == 0.805);
  CHECK(stored.final_test_loss == doctest::Approx(0.65803236).epsilon(1e-7));
  // Training is untouched (same loss curve area); evaluation differs.
  CHECK(shuffled.loss_auc == stored.loss_auc);
  CHECK(shuffled.final_test_acc != stored.final_test_acc);
  // Same seed, same permutation, same numbers.
  CHECK(again.final_test_acc == shuffled.final_test_acc);
  CHECK(again.final_test_loss == shuffled.final_test_loss);
  REQUIRE(again.curve.size() == shuffled.curve.size());
  for (std::size_t i = 0; i < again.curve.size(); ++i) CHECK(again.curve[i].accuracy == shuffled.curve[i].accuracy);
}

TEST_CASE("train eval-order: evaluate with an order reads its first limit entries in batches") {
  // Whole-split evaluation in eval mode does not depend on the order; with batch statistics and
  // eval-subset it does: the first N of the permutation, not of the stored order.
  const TrainSpec spec = resolve(tiny());
  const RunSetup s = setup_run(spec);
  auto model = build_run_model(s);
  const Split& test = s.data->test;
  const auto perm = eval_permutation(test.count(), 3, 4);
  const auto a = evaluate(*model, test, 4, 0, Mode::eval);
  const auto b = evaluate(*model, test, 4, 0, Mode::eval, perm.data());
  CHECK(a.first == doctest::Approx(b.first).epsilon(1e-6));
  CHECK(a.second == b.second);
  // The identity order is stored order, bit for bit.
  std::vector<uint32_t> id(test.count());
  std::iota(id.begin(), id.end(), 0u);
  const auto c = evaluate(*model, test, 4, 20, Mode::eval_batch_stats);
  const auto d = evaluate(*model, test, 4, 20, Mode::eval_batch_stats, id.data());
  CHECK(c.first == d.first);
  CHECK(c.second == d.second);
  // A subset of 20 through the permutation: the same as those 20 samples stored first.
  const Split first20 = test.subset(std::vector<uint32_t>(perm.begin(), perm.begin() + 20));
  const auto e = evaluate(*model, test, 4, 20, Mode::eval_batch_stats, perm.data());
  const auto f = evaluate(*model, first20, 4, 0, Mode::eval_batch_stats);
  CHECK(e.first == f.first);
  CHECK(e.second == f.second);
}

TEST_CASE("train eval-order: the prediction flip rate, against its closed forms") {
  auto with = [](const std::string& stats, const std::string& eval_batch, const std::string& order) {
    RunConfig c = tiny(order);
    c.set("eval-stats", stats);
    c.set("eval-batch", eval_batch);
    return run_one(resolve(c), 1);
  };
  // Stored order: not measured.
  CHECK_FALSE(run_one(resolve(tiny()), 1).has_flip);
  // Batch statistics over 4 random batch-mates: predictions depend on them.
  const RunResult b4 = with("batch", "4", "shuffled");
  REQUIRE(b4.has_flip);
  CHECK(b4.pred_flip_rate > 0.05);
  CHECK(with("batch", "4", "shuffled").pred_flip_rate == b4.pred_flip_rate);
  // Batch 1: each unit's batch mean is the value itself, so every BN output is beta and
  // every image gets the same prediction whatever the order: no flips.
  CHECK(with("batch", "1", "shuffled").pred_flip_rate == 0);
  // One batch holding the whole test split: the same batch-mates in both orders.
  CHECK(with("batch", "100", "shuffled").pred_flip_rate == 0);
  // Running averages: an image's output does not depend on its batch.
  CHECK(with("running", "4", "shuffled").pred_flip_rate == 0);
}

TEST_CASE("evaluation in chunks: each model's eval-mode logits are the bytes of the whole batch at once") {
  // evaluate() runs the layers before the first dense or rnn layer in chunks of
  // eval_chunk_rows samples and the rest on the whole batch (train/trainer.h). Here:
  // against one forward of the whole batch, for every model, at chunks of 7 and 64 and
  // the trainer's own, with a tail chunk and running statistics that are not 0/1.
  struct Case {
    std::string model;
    NormKind norm;
  };
  for (const Case& t : {Case{"mlp", NormKind::batch}, Case{"mlp", NormKind::none}, Case{"cnn", NormKind::batch},
                       Case{"cnn-small", NormKind::group}, Case{"cnn-deep", NormKind::batch},
                       Case{"cnn-deep", NormKind::layer}, Case{"rnn", NormKind::batch},
                       Case{"resnet", NormKind::batch}, Case{"cnn-plain", NormKind::group}}) {
    CAPTURE(t.model);
    ModelConfig cfg;
    cfg.model = t.model;
    cfg.norm.kind = t.norm;
    const int N = t.model == "resnet" || t.model == "cnn-plain" ? 200 : 333;
    auto m = build_model<float>(cfg, N);
    init_model(*m, InitSpec{}, 5);
    Rng r(17);
    for (float& b : m->buffers()) b = float(0.5 + r.uniform());  // running mean and var away from 0 and 1
    std::vector<float> x(std::size_t(N) * m->input_shape().size());
    for (float& v : x) v = float(r.normal());
    const std::size_t K = m->output_shape().size();
    const float* z = m->forward(x.data(), N, Mode::eval);
    const std::vector<float> whole(z, z + std::size_t(N) * K);
    const bool conv = t.model != "mlp" && t.model != "rnn";
    CHECK((eval_chunk_layers(*m) > 0) == conv);  // mlp and rnn start with a dense/rnn layer: no chunks
    CHECK((eval_chunk_rows(*m, Mode::eval, 100000) < 100000) == conv);
    std::vector<float> staged;
    for (int chunk : {7, 64, eval_chunk_rows(*m, Mode::eval, N)}) {
      CAPTURE(chunk);
      const float* zc = forward_in_chunks(*m, x.data(), N, Mode::eval, chunk, staged);
      CHECK(std::memcmp(zc, whole.data(), whole.size() * sizeof(float)) == 0);
    }
  }
  // Batch statistics are the batch's: never chunked.
  ModelConfig cfg;
  cfg.model = "cnn-small";
  auto m = build_model<float>(cfg, 1000);
  CHECK(eval_chunk_rows(*m, Mode::eval_batch_stats, 1000) == 1000);
  CHECK(eval_chunk_rows(*m, Mode::eval, 1000) < 1000);
}
