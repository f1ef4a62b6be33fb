// Checkpoint interop with PyTorch, both directions.
//
// PyTorch -> normlab: tests/fixtures/interop_<m>.safetensors is a trained-ish torch state_dict
// (running statistics moved off 0/1), interop_<m>.io.safetensors an input batch, torch's
// eval-mode logits and the model config (JSON, metadata["config"]). normlab builds the model,
// load_checkpoint()s the file and must reproduce the logits: |a - r| <= 1e-5 (absolute).
//
// normlab -> PyTorch: "torch interop: export normlab checkpoints" trains a few normlab models
// briefly, then writes DIR/<m>.safetensors (save_checkpoint), DIR/<m>.io.safetensors (x,
// normlab eval logits, config) for scripts/check_checkpoint.py DIR, which loads them into torch
// with load_state_dict(strict=True) and compares (ctest: torch_interop_export ->
// torch_interop_check). DIR is $NORMLAB_INTEROP_DIR, else a temporary directory that is removed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>
#include <vector>

#include "init/init.h"
#include "tensor/rng.h"
#include "nn/checkpoint.h"
#include "nn/model.h"
#include "nn/softmax_xent.h"
#include "optim/optimizer.h"
#include "tensor/safetensors.h"

using namespace normlab;
namespace fs = std::filesystem;

namespace {

constexpr double kLogitTol = 1e-5;

// The JSON config written by scripts/make_fixtures.py (same keys as ModelConfig).
ModelConfig config_from_json(const nlohmann::json& j) {
  ModelConfig c;
  c.model = j.at("model");
  c.widths = j.at("widths").get<std::vector<int>>();
  c.activation = parse_activation(j.value("activation", std::string("relu")));
  c.norm.kind = parse_norm_kind(j.value("norm", std::string("none")));
  c.norm.groups = j.value("groups", 8);
  c.norm.eps = j.value("eps", 1e-5);
  c.norm.momentum = j.value("momentum", 0.1);
  c.norm.affine = j.value("affine", true);
  c.placement = j.value("placement", std::string("before"));
  c.dropout = j.value("dropout", 0.0);
  const auto in = j.at("input").get<std::vector<int>>();
  c.input = Shape{in.at(0), in.at(1), in.at(2)};
  c.classes = j.value("classes", 10);
  return c;
}

nlohmann::json config_to_json(const ModelConfig& c) {
  return {{"model", c.model},
          {"widths", c.widths},
          {"activation", to_string(c.activation)},
          {"norm", to_string(c.norm.kind)},
          {"groups", c.norm.groups},
          {"eps", c.norm.eps},
          {"momentum", c.norm.momentum},
          {"affine", c.norm.affine},
          {"placement", c.placement},
          {"input", {c.input.c, c.input.h, c.input.w}},
          {"classes", c.classes},
          {"dropout", c.dropout},
          {"depth", c.depth}};
}

double max_abs(const float* a, const std::vector<double>& r) {
  double e = 0;
  for (std::size_t i = 0; i < r.size(); ++i) e = std::max(e, std::abs(double(a[i]) - r[i]));
  return e;
}

ModelConfig make_cfg(const std::string& model, std::vector<int> widths, NormKind norm, Shape in,
                     int groups = 8, const std::string& placement = "before",
                     ActKind act = ActKind::relu) {
  ModelConfig c;
  c.model = model;
  c.widths = std::move(widths);
  c.norm.kind = norm;
  c.norm.groups = groups;
  c.input = in;
  c.placement = placement;
  c.activation = act;
  return c;
}

}  // namespace

TEST_CASE("torch interop: PyTorch checkpoints load into normlab and give torch's logits") {
  const std::string dir = NORMLAB_FIXTURES;
  for (const char* name : {"mlp_bn", "cnn_bn", "cnnsmall_gn", "cnnsmall_ln", "mlp_bn_after"}) {
    SUBCASE(name) {
      const SafeTensorFile io = read_safetensors(dir + "/interop_" + name + ".io.safetensors");
      const ModelConfig cfg = config_from_json(nlohmann::json::parse(io.metadata.at("config")));
      const int N = int(io.at("x").shape[0]);
      auto model = build_model<float>(cfg, N);
      load_checkpoint(dir + "/interop_" + name + ".safetensors", *model);
      // The running statistics really are trained (not the 0/1 defaults).
      for (const auto& e : model->state())
        if (e.name.find("running_mean") != std::string::npos) {
          double s = 0;
          for (std::size_t i = 0; i < e.spec.numel(); ++i) s += std::abs(e.data[i]);
          CHECK(s > 0);
        }
      const auto x = io.at("x").to_float();
      REQUIRE(x.size() == std::size_t(N) * model->input_shape().size());
      const auto ref = io.at("logits").to_double();
      const float* logits = model->forward(x.data(), N, Mode::eval);
      const double e = max_abs(logits, ref);
      MESSAGE(std::string(name), ": max |logit error| ", e, " (tol ", kLogitTol, ")");
      CHECK_MESSAGE(e <= kLogitTol, std::string(name), ": max |logit error| ", e);
    }
  }
}

TEST_CASE("torch interop: export normlab checkpoints for scripts/check_checkpoint.py") {
  const char* env = std::getenv("NORMLAB_INTEROP_DIR");
  const bool keep = env && *env;
  const fs::path dir = keep ? fs::path(env)
                            : fs::temp_directory_path() /
                                  ("normlab_interop_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Start from no model files, so the checker never reads a stale one.
  for (const auto& p : fs::directory_iterator(dir))
    if (p.path().extension() == ".safetensors") fs::remove(p.path());

  struct Item {
    std::string name;
    ModelConfig cfg;
  };
  // Dropout adds an index per hidden block; the BN variants save BatchNorm's tensors
  // (their eval mode is batch norm's).
  auto with = [](ModelConfig c, double dropout, int ghost) {
    c.dropout = dropout;
    c.norm.ghost_batch = ghost;
    return c;
  };
  auto with_depth = [](ModelConfig c, int depth) {
    c.depth = depth;
    return c;
  };
  const std::vector<Item> items = {
      {"mlp_renorm_dropout",
       with(make_cfg("mlp", {32, 16}, NormKind::batch_renorm, Shape{1, 6, 6}, 8, "after"), 0.3, 32)},
      {"cnnsmall_ghost_dropout",
       with(make_cfg("cnn-small", {4, 8}, NormKind::ghost_batch, Shape{1, 8, 8}), 0.2, 4)},
      {"mlp_noisy", make_cfg("mlp", {16, 8}, NormKind::noisy_batch, Shape{1, 4, 4})},
      {"mlp_bn", make_cfg("mlp", {128, 64}, NormKind::batch, Shape{1, 28, 28})},
      {"cnn_bn", make_cfg("cnn", {32}, NormKind::batch, Shape{1, 12, 12})},
      {"cnnsmall_gn", make_cfg("cnn-small", {16, 32}, NormKind::group, Shape{1, 28, 28}, 4)},
      {"cnnsmall_ln", make_cfg("cnn-small", {4, 8}, NormKind::layer, Shape{2, 8, 8})},
      {"mlp_bn_after",
       make_cfg("mlp", {32, 16}, NormKind::batch, Shape{1, 6, 6}, 8, "after", ActKind::tanh)},
      {"cnndeep_bn", make_cfg("cnn-deep", {4, 8, 8}, NormKind::batch, Shape{1, 28, 28})},
      {"rnn_bn", make_cfg("rnn", {16}, NormKind::batch, Shape{1, 28, 28})},
      {"rnn_gn", make_cfg("rnn", {16}, NormKind::group, Shape{1, 28, 28}, 4)},
      {"resnet_bn_d2", with_depth(make_cfg("resnet", {4, 8, 8}, NormKind::batch, Shape{1, 28, 28}), 2)},
      {"resnet_none", make_cfg("resnet", {4, 8, 8}, NormKind::none, Shape{1, 12, 12})},
      {"cnnplain_gn", make_cfg("cnn-plain", {4, 8, 8}, NormKind::group, Shape{1, 12, 12}, 2)},
  };
  uint64_t seed = 11;
  for (const auto& it : items) {
    INFO("model ", it.name);
    const int B = 16, N = 5, K = it.cfg.classes;
    auto model = build_model<float>(it.cfg, B);
    init_model(*model, InitSpec{}, seed++);
    // A few SGD-momentum steps on random data: weights and running statistics move.
    OptimConfig oc;
    oc.kind = "momentum";
    Optimizer opt(oc, model->params().size());
    Rng rng(seed++);
    const std::size_t D = model->input_shape().size();
    std::vector<float> x(std::size_t(B) * D), probs(std::size_t(B) * K), dl(probs.size());
    std::vector<int32_t> y(static_cast<std::size_t>(B));
    for (int s = 0; s < 5; ++s) {
      for (auto& v : x) v = float(rng.uniform(0.3, 2.3));
      for (auto& v : y) v = int32_t(rng.below(uint64_t(K)));
      model->zero_grad();
      const float* logits = model->forward(x.data(), B, Mode::train);
      softmax_xent_forward(probs.data(), logits, y.data(), B, K);
      std::fill(dl.begin(), dl.end(), 0.f);
      softmax_xent_backward(dl.data(), probs.data(), y.data(), B, K);
      model->backward(dl.data(), B);
      opt.step(model->params().data(), model->grads().data(), 0.05);
    }
    std::vector<float> xe(std::size_t(N) * D);
    for (auto& v : xe) v = float(rng.uniform(0.3, 2.3));
    const float* le = model->forward(xe.data(), N, Mode::eval);
    const std::vector<float> logits(le, le + std::size_t(N) * K);

    const std::string ckpt = (dir / (it.name + ".safetensors")).string();
    save_checkpoint(ckpt, *model);
    SafeTensorFile io;
    io.tensors["x"] = make_f32(xe.data(), {N, int64_t(D)});
    io.tensors["logits"] = make_f32(logits.data(), {N, K});
    io.metadata["config"] = config_to_json(it.cfg).dump();
    write_safetensors((dir / (it.name + ".io.safetensors")).string(), io);

    // Round trip inside normlab: a fresh model loading the file gives the same logits.
    auto fresh = build_model<float>(it.cfg, N);
    load_checkpoint(ckpt, *fresh);
    const float* lf = fresh->forward(xe.data(), N, Mode::eval);
    CHECK(std::equal(logits.begin(), logits.end(), lf));
  }
  if (!keep) fs::remove_all(dir);
}
