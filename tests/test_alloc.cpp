// Counts heap allocations made through operator new during training steps:
// after the first step, a step (forward, loss, backward, optimizer) and a
// batch gather must allocate nothing, for every model and norm; after a run's first
// evaluation, an evaluation allocates nothing either.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "data/dataset.h"
#include "data/sampler.h"
#include "init/init.h"
#include "nn/model.h"
#include "train/train_step.h"
#include "train/trainer.h"

namespace {
std::atomic<long> g_allocs{0};
}

void* operator new(std::size_t n) {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every
// new here is malloc, so the deletes below may free whatever they are given.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace normlab;

TEST_CASE("alloc: a training step allocates nothing after the first") {
  const auto data = load_dataset("synthetic-images:n=256,test=64,classes=10,seed=1");
  struct Case {
    const char* model;
    NormKind norm;
    const char* optimizer;
    double dropout = 0;
    int batch = 32;  // 4: the rnn's few-row products (tensor/small_rows.h)
  };
  for (const Case c : {Case{"mlp", NormKind::batch, "sgd"}, Case{"mlp", NormKind::layer, "adam"},
                       Case{"cnn", NormKind::batch, "momentum"}, Case{"cnn", NormKind::group, "sgd"},
                       Case{"cnn-small", NormKind::layer, "adam"},
                       Case{"cnn-small", NormKind::none, "sgd"},
                       Case{"cnn-deep", NormKind::batch, "momentum"},
                       Case{"cnn-deep", NormKind::group, "adam"},
                       Case{"rnn", NormKind::batch, "sgd"}, Case{"rnn", NormKind::layer, "adam"},
                       Case{"rnn", NormKind::group, "momentum"}, Case{"rnn", NormKind::none, "sgd"},
                       Case{"rnn", NormKind::batch, "sgd", 0, 4}, Case{"rnn", NormKind::layer, "adam", 0, 4},
                       Case{"mlp", NormKind::ghost_batch, "sgd"},
                       Case{"cnn-small", NormKind::ghost_batch, "momentum"},
                       Case{"mlp", NormKind::batch_renorm, "sgd"},
                       Case{"cnn", NormKind::batch_renorm, "adam"},
                       Case{"mlp", NormKind::noisy_batch, "sgd"},
                       Case{"cnn-small", NormKind::noisy_batch, "sgd"},
                       Case{"mlp", NormKind::batch, "sgd", 0.5},
                       Case{"cnn-small", NormKind::none, "adam", 0.2},
                       Case{"resnet", NormKind::batch, "momentum"}, Case{"resnet", NormKind::none, "sgd"},
                       Case{"resnet", NormKind::layer, "adam"}, Case{"resnet", NormKind::group, "sgd"},
                       Case{"cnn-plain", NormKind::batch, "sgd"}}) {
    ModelConfig mc;
    mc.model = c.model;
    mc.norm.kind = c.norm;
    mc.norm.ghost_batch = 12;  // chunks 12, 12, 8 of the batch of 32
    mc.dropout = c.dropout;
    mc.norm.groups = 4;
    mc.input = data->shape;
    const bool blocks = std::string(c.model) == "resnet" || std::string(c.model) == "cnn-plain";
    if (blocks) {  // small, with identity and projection blocks
      mc.widths = {4, 8, 8};
      mc.depth = 2;
    }
    const int N = c.batch;
    auto model = build_model<float>(mc, N);
    init_model(*model, InitSpec{}, 1);
    OptimConfig oc;
    oc.kind = c.optimizer;
    TrainStep step(*model, oc, N);
    EpochSampler sampler(data->train.count(), N, 7);
    std::vector<float> x(std::size_t(N) * model->input_shape().size());
    std::vector<int32_t> y(N);
    sampler.start_epoch(0);
    auto one = [&] {
      const uint32_t* idx;
      int n;
      if (!sampler.next(idx, n)) {
        sampler.start_epoch(1);
        sampler.next(idx, n);
      }
      data->train.gather(x.data(), y.data(), idx, n);
      return step.run(x.data(), y.data(), n, 0.01, 1e30);
    };
    CHECK(one().updated);  // warm-up: the first step may allocate (nothing does today)
    const long before = g_allocs.load();
    for (int i = 0; i < 10; ++i) REQUIRE(one().updated);
    const long during = g_allocs.load() - before;
    INFO(c.model, " norm ", to_string(c.norm), " ", c.optimizer, " dropout ", c.dropout, " batch ", N);
    CHECK(during == 0);
  }
}

TEST_CASE("alloc: the counter sees allocations (the test can fail)") {
  const long before = g_allocs.load();
  auto* v = new std::vector<int>(100);
  delete v;
  CHECK(g_allocs.load() - before >= 2);
}

TEST_CASE("alloc: a run's evaluations allocate nothing after the first, chunked or not") {
  const auto data = load_dataset("synthetic-images:n=256,test=100,classes=10,seed=1");
  for (const char* name : {"mlp", "cnn", "cnn-small", "cnn-deep", "rnn", "resnet"}) {
    ModelConfig mc;
    mc.model = name;
    mc.norm.kind = NormKind::batch;
    mc.input = data->shape;
    if (std::string(name) == "resnet") mc.widths = {4, 8, 8};
    auto model = build_model<float>(mc, 64, 8);
    init_model(*model, InitSpec{}, 1);
    const std::string model_name = name;
    INFO(model_name);
    // Batch 64 over 100 samples: a full batch and a tail of 36; cnn's chunks are 8 rows or more.
    // A run evaluates in one mode; the first evaluation in it may allocate, the next must not.
    for (const Mode mode : {Mode::eval, Mode::eval_batch_stats}) {
      const std::string mode_name = mode == Mode::eval ? "eval" : "eval_batch_stats";
      INFO(mode_name);
      EvalScratch scratch;
      const auto first = evaluate(*model, data->test, 64, 0, mode, nullptr, nullptr, &scratch);
      const long before = g_allocs.load();
      const auto again = evaluate(*model, data->test, 64, 0, mode, nullptr, nullptr, &scratch);
      CHECK(g_allocs.load() - before == 0);
      CHECK(again == first);  // the reused buffers carry nothing over
    }
  }
}
