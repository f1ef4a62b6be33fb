// resnet and cnn-plain (nn/model.h, nn/residual.h): layer lists and state_dict names (the
// PyTorch mirror in scripts/make_fixtures.py), the refusals, and zero-init-residual.
// Logits and gradients against PyTorch: test_torch_models.cpp; finite differences:
// test_gradcheck.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/errors.h"
#include "init/init.h"
#include "nn/model.h"
#include "nn/residual.h"
#include "tensor/rng.h"
#include "train/precise_bn.h"
#include "train/run_config.h"

using namespace normlab;

namespace {
std::vector<std::string> kinds(const Sequential<float>& m) {
  std::vector<std::string> k;
  for (std::size_t i = 0; i < m.num_layers(); ++i) k.push_back(m.layer(i).kind());
  return k;
}

std::string build_error(const ModelConfig& c) {
  try {
    auto m = build_model<float>(c, 4);
    init_model(*m, InitSpec{}, 1);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

ModelConfig resnet(NormKind norm, int depth = 1, const char* model = "resnet") {
  ModelConfig c;
  c.model = model;
  c.norm.kind = norm;
  c.depth = depth;
  return c;
}

std::vector<std::string> names(Sequential<float>& m) {
  std::vector<std::string> n;
  for (const auto& e : m.state()) n.push_back(e.name);
  return n;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

TEST_CASE("resnet: stem, 3 stages of depth blocks, global pool, maps 28, 14, 7") {
  auto m = build_model<float>(resnet(NormKind::batch, 2), 2);
  CHECK(kinds(*m) == std::vector<std::string>{"conv2d", "batchnorm", "relu", "resblock", "resblock",
                                              "resblock", "resblock", "resblock", "resblock",
                                              "avgpool2d", "flatten", "linear"});
  CHECK(m->layer(4).out_shape().str() == Shape{16, 28, 28}.str());
  CHECK(m->layer(5).out_shape().str() == Shape{32, 14, 14}.str());
  CHECK(m->layer(8).out_shape().str() == Shape{64, 7, 7}.str());
  CHECK(m->layer(9).out_shape().str() == Shape{64, 1, 1}.str());
  const auto n = names(*m);
  // identity blocks: no shortcut; the first block of stages 2 and 3 projects (1x1 conv stride 2 + norm)
  CHECK(has(n, "3.conv1.weight"));
  CHECK(has(n, "3.norm2.running_var"));
  CHECK_FALSE(has(n, "3.shortcut.0.weight"));
  CHECK_FALSE(has(n, "4.shortcut.0.weight"));
  CHECK(has(n, "5.shortcut.0.weight"));
  CHECK(has(n, "5.shortcut.1.num_batches_tracked"));
  CHECK(has(n, "7.shortcut.0.bias"));
  CHECK_FALSE(has(n, "8.shortcut.0.weight"));
  CHECK(has(n, "11.weight"));
  const auto& p = dynamic_cast<const ResidualBlock<float>&>(m->layer(5));
  const auto ws = p.part(p.num_parts() - 2).params()[0].shape;  // shortcut.0 weight (32, 16, 1, 1)
  CHECK(ws == std::vector<int>{32, 16, 1, 1});
}

TEST_CASE("cnn-plain: the same blocks without skips or projections") {
  auto r = build_model<float>(resnet(NormKind::group), 2);
  auto m = build_model<float>(resnet(NormKind::group, 1, "cnn-plain"), 2);
  CHECK(kinds(*m) == std::vector<std::string>{"conv2d", "groupnorm", "relu", "plainblock", "plainblock",
                                              "plainblock", "avgpool2d", "flatten", "linear"});
  for (const auto& s : names(*m)) CHECK(s.find("shortcut") == std::string::npos);
  // resnet's parameters are cnn-plain's plus the two projections' conv and norm
  const std::size_t proj = (32 * 16 + 32 + 2 * 32) + (64 * 32 + 64 + 2 * 64);
  CHECK(r->params().size() == m->params().size() + proj);
  auto none = build_model<float>(resnet(NormKind::none, 1, "cnn-plain"), 2);
  CHECK(kinds(*none)[1] == "relu");
}

TEST_CASE("resnet and cnn-plain: bad configurations are refused with the key and what is allowed") {
  ModelConfig c = resnet(NormKind::batch);
  c.widths = {16, 32};
  CHECK(build_error(c).find("widths: resnet takes 3 stage widths") != std::string::npos);
  c = resnet(NormKind::batch);
  c.placement = "after";
  CHECK(build_error(c).find("norm-placement: resnet") != std::string::npos);
  c = resnet(NormKind::none);
  c.dropout = 0.2;
  CHECK(build_error(c).find("dropout: resnet has no dropout layers (allowed: 0)") != std::string::npos);
  c = resnet(NormKind::none, 1, "cnn-plain");
  c.zero_init_residual = ZeroInitResidual::on;
  CHECK(build_error(c).find("zero-init-residual: cnn-plain has no skips") != std::string::npos);
  c = resnet(NormKind::group);
  c.widths = {16, 36, 64};
  c.norm.groups = 8;
  CHECK(build_error(c).find("groups: 8 does not divide the 36 channels of layer 4 (block norm1 of stage 2)") !=
        std::string::npos);
  c = resnet(NormKind::group, 2);
  c.widths = {12, 32, 64};
  CHECK(build_error(c).find("layer 1 (the stem's GroupNorm)") != std::string::npos);
  c = resnet(NormKind::batch);
  c.input = Shape{1, 28, 20};
  CHECK(build_error(c).find("pools a square map") != std::string::npos);
  c = resnet(NormKind::batch);
  c.norm.affine = false;
  c.zero_init_residual = ZeroInitResidual::on;
  CHECK(build_error(c).find("zero-init-residual: the block's last norm has no gamma") != std::string::npos);
  c.zero_init_residual = ZeroInitResidual::automatic;  // off with a norm: fine without gamma
  CHECK(build_error(c).empty());
}

TEST_CASE("zero-init-residual: auto zeroes conv2 without a norm, nothing with one, true zeroes norm2's gamma") {
  auto count_zero = [](Sequential<float>& m, const std::string& suffix) {
    int blocks = 0, zero = 0;
    for (const auto& e : m.state())
      if (e.name.size() > suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
        ++blocks;
        zero += std::all_of(e.data, e.data + e.spec.numel(), [](float v) { return v == 0.f; });
      }
    return std::pair{blocks, zero};
  };
  struct Case {
    const char* model;
    NormKind norm;
    ZeroInitResidual z;
    const char* tensor;
    int zeroed;  // of the 6 blocks (depth 2)
  };
  for (const Case c : {Case{"resnet", NormKind::none, ZeroInitResidual::automatic, "conv2.weight", 6},
                       Case{"resnet", NormKind::none, ZeroInitResidual::automatic, "conv2.bias", 6},
                       Case{"resnet", NormKind::none, ZeroInitResidual::off, "conv2.weight", 0},
                       Case{"resnet", NormKind::batch, ZeroInitResidual::automatic, "norm2.weight", 0},
                       Case{"resnet", NormKind::batch, ZeroInitResidual::on, "norm2.weight", 6},
                       Case{"resnet", NormKind::layer, ZeroInitResidual::on, "norm2.weight", 6},
                       Case{"resnet", NormKind::group, ZeroInitResidual::on, "conv2.weight", 0},
                       Case{"cnn-plain", NormKind::none, ZeroInitResidual::automatic, "conv2.weight", 0}}) {
    ModelConfig mc = resnet(c.norm, 2, c.model);
    mc.zero_init_residual = c.z;
    auto m = build_model<float>(mc, 2);
    init_model(*m, InitSpec{}, 3);
    const auto [blocks, zero] = count_zero(*m, c.tensor);
    INFO(c.model, " ", to_string(c.norm), " ", to_string(c.z), " ", c.tensor);
    CHECK(blocks == 6);
    CHECK(zero == c.zeroed);
    CHECK(count_zero(*m, "conv1.weight").second == 0);  // the rest is initialized as usual
  }
}

TEST_CASE("zero-init-residual: a zeroed block is its shortcut, act(x) or act(projection(x))") {
  ModelConfig mc = resnet(NormKind::none, 1);
  auto m = build_model<float>(mc, 2);
  init_model(*m, InitSpec{}, 4);
  std::vector<float> x(2 * 784);
  Rng rng(9);
  for (auto& v : x) v = float(rng.uniform(0, 1));
  m->forward(x.data(), 2, Mode::train);
  // Block 2 (the first) keeps the shape: its input is a relu output, so act(x) = x.
  const std::size_t n = 2 * m->layer(2).out_shape().size();
  const float* in = m->activation(1);
  const float* out = m->activation(2);
  CHECK(std::equal(in, in + n, out));
  // cnn-plain's zero-free init does not do that.
  auto p = build_model<float>(resnet(NormKind::none, 1, "cnn-plain"), 2);
  init_model(*p, InitSpec{}, 4);
  p->forward(x.data(), 2, Mode::train);
  CHECK_FALSE(std::equal(p->activation(1), p->activation(1) + n, p->activation(2)));
}

TEST_CASE("resnet keys: depth and zero-init-residual go through the schema, off the run id at default") {
  RunConfig c;
  CHECK(c.canonical().find("depth=") == std::string::npos);
  CHECK(c.canonical().find("zero-init-residual=") == std::string::npos);
  c.set("model", "resnet");
  c.set("depth", "3");
  c.set("zero_init_residual", "false");
  CHECK(c.canonical().find("depth=3\n") != std::string::npos);
  CHECK(c.canonical().find("zero-init-residual=false\n") != std::string::npos);
  const TrainSpec t = resolve(c);
  CHECK(t.model.depth == 3);
  CHECK(t.model.zero_init_residual == ZeroInitResidual::off);
  auto refusal = [&](const char* key, const char* value) {
    try {
      RunConfig r;
      r.set(key, value);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(refusal("depth", "0").find("depth") != std::string::npos);
  CHECK(refusal("depth", "65").find("1 to 64") != std::string::npos);
  CHECK(refusal("zero-init-residual", "yes").find("allowed: auto, true, false") != std::string::npos);
  RunConfig s;
  s.set("model", "cnn-plain");
  s.set("stat-batches", "2,4");
  CHECK_THROWS_AS(resolve(s), ConfigError);
}

TEST_CASE("resnet: PreciseBN recomputes the batch norms inside the blocks too") {
  ModelConfig mc = resnet(NormKind::batch, 1);
  mc.widths = {4, 8, 8};
  mc.input = Shape{1, 12, 12};
  const int N = 6;
  auto m = build_model<float>(mc, N);
  init_model(*m, InitSpec{}, 5);
  std::vector<float> x(std::size_t(N) * 144);
  Rng rng(2);
  for (auto& v : x) v = float(rng.uniform(0, 1));
  PreciseBN p(*m);
  p.add(x.data(), N);  // one batch: the pooled statistics are that batch's
  p.finish();
  int nested = 0;
  for (std::size_t i = 0; i < m->num_layers(); ++i) {
    auto* block = dynamic_cast<ResidualBlock<float>*>(&m->layer(i));
    if (!block) continue;
    for (std::size_t k = 0; k < block->num_parts(); ++k) {
      auto* bn = dynamic_cast<BatchNorm<float>*>(&block->part(k));
      if (!bn) continue;
      ++nested;
      const int C = bn->in_shape().c;
      const double M = double(N) * bn->in_shape().spatial();
      for (int c = 0; c < C; ++c) {
        CHECK(bn->running_mean()[c] == doctest::Approx(bn->batch_mean()[c]).epsilon(1e-5));
        CHECK(bn->running_var()[c] == doctest::Approx(bn->batch_var()[c] * M / (M - 1)).epsilon(1e-4));
      }
    }
  }
  CHECK(nested == 8);  // norm1, norm2 in each of 3 blocks, shortcut.1 in 2
}
