// Layer lists of cnn-deep and rnn (the PyTorch nn.Sequential they mirror, README "Models"),
// and the bad configurations build_model must reject with a message naming the layer.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/errors.h"
#include "nn/model.h"
#include "nn/rnn.h"

using namespace normlab;

namespace {
std::vector<std::string> kinds(const Sequential<float>& m) {
  std::vector<std::string> k;
  for (std::size_t i = 0; i < m.num_layers(); ++i) k.push_back(m.layer(i).kind());
  return k;
}

std::string build_error(const ModelConfig& c) {
  try {
    build_model<float>(c, 4);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("models: cnn-deep is [conv s2 -> norm -> act] x widths, its last norm on a 4x4 map") {
  ModelConfig c;
  c.model = "cnn-deep";
  c.norm.kind = NormKind::batch;
  auto m = build_model<float>(c, 2);
  CHECK(kinds(*m) == std::vector<std::string>{"conv2d", "batchnorm", "relu", "conv2d", "batchnorm",
                                              "relu", "conv2d", "batchnorm", "relu", "flatten",
                                              "linear"});
  CHECK(m->layer(1).in_shape().str() == Shape{16, 14, 14}.str());
  CHECK(m->layer(4).in_shape().str() == Shape{32, 7, 7}.str());
  CHECK(m->layer(7).in_shape().str() == Shape{64, 4, 4}.str());
  CHECK(m->output_shape().size() == 10);
  c.widths = {8, 8, 8, 8};
  c.norm.kind = NormKind::none;
  auto four = build_model<float>(c, 2);
  CHECK(four->num_layers() == 4 * 2 + 2);
  CHECK(four->layer(6).out_shape().str() == Shape{8, 2, 2}.str());
}

TEST_CASE("models: rnn is RNN(hidden) -> Linear, 28 steps of 28 pixels, per-step BN averages") {
  ModelConfig c;
  c.model = "rnn";
  c.norm.kind = NormKind::batch;
  auto m = build_model<float>(c, 2);
  CHECK(kinds(*m) == std::vector<std::string>{"rnn", "linear"});
  const auto& r = dynamic_cast<const RNN<float>&>(m->layer(0));
  CHECK(r.steps() == 28);
  CHECK(r.hidden() == 128);
  std::vector<std::string> names;
  for (const auto& e : m->state()) names.push_back(e.name);
  CHECK(names == std::vector<std::string>{"0.weight_ih", "0.weight_hh", "0.bias", "0.norm.weight",
                                          "0.norm.bias", "0.norm.running_mean",
                                          "0.norm.running_var", "0.norm.num_batches_tracked",
                                          "1.weight", "1.bias"});
  CHECK(m->state()[5].spec.shape == std::vector<int>{28, 128});
}

TEST_CASE("models: bad cnn-deep and rnn configurations name the layer") {
  ModelConfig c;
  c.model = "cnn-deep";
  c.norm.kind = NormKind::group;
  c.norm.groups = 3;
  c.widths = {12, 24, 32};
  CHECK(build_error(c).find("32 channels of layer 7") != std::string::npos);
  c.placement = "after";
  CHECK(build_error(c).find("32 channels of layer 8") != std::string::npos);
  c.placement = "before";
  c.widths = {8, 8};
  CHECK(build_error(c).find("cnn-deep takes 3 or 4") != std::string::npos);
  c.model = "rnn";
  c.widths = {20};
  CHECK(build_error(c).find("20 hidden features of layer 0") != std::string::npos);
  c.norm.groups = 4;
  CHECK(build_error(c).empty());
  c.placement = "after";
  CHECK(build_error(c).find("norm-placement") != std::string::npos);
  c.placement = "before";
  c.input = Shape{20, 1, 1};
  CHECK(build_error(c).find("one-channel image") != std::string::npos);
}
