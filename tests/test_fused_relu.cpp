// A relu fused into the layer before it (Sequential, Keep::logits) against the two layers
// run apart (Keep::all), byte for byte: the logits, every relu's output, every parameter
// gradient and the running statistics, in training and in evaluation, for every model and
// norm whose relus are fused; and which pairs are fused at all.
#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <vector>

#include "init/init.h"
#include "nn/activation.h"
#include "nn/dense.h"
#include "nn/model.h"
#include "nn/sequential.h"
#include "tensor/rng.h"

using namespace normlab;

namespace {

template <class T>
bool same(const T* a, const T* b, std::size_t n) {
  return n == 0 || std::memcmp(a, b, n * sizeof(T)) == 0;  // an empty vector's data() may be null
}

std::size_t fused_pairs(const Sequential<float>& m) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < m.num_layers(); ++i) n += m.relu_fusable(i);
  return n;
}

// Three training steps of two copies of one model, apart and fused, then an evaluation.
void check_same_bytes(const ModelConfig& mc, int N) {
  auto a = build_model<float>(mc, N), b = build_model<float>(mc, N);
  init_model(*a, InitSpec{}, 7);
  init_model(*b, InitSpec{}, 7);
  Rng r(9);
  const std::size_t in = a->input_shape().size(), K = a->output_shape().size();
  std::vector<float> x(N * in), dlogits(N * K);
  for (int step = 0; step < 3; ++step) {
    CAPTURE(step);
    for (auto& v : x) v = float(r.normal());
    for (auto& v : dlogits) v = float(r.normal()) / float(N);
    // a zero and a negative zero among the output gradients: relu's 0 + d turns -0 into +0
    dlogits[0] = 0.f;
    dlogits[1] = -0.f;
    const float* za = a->forward(x.data(), N, Mode::train, Keep::all);
    const float* zb = b->forward(x.data(), N, Mode::train, Keep::logits);
    REQUIRE(same(za, zb, N * K));
    for (std::size_t i = 0; i < a->num_layers(); ++i)
      if (a->relu_fusable(i)) {
        CAPTURE(i);
        CHECK(same(a->activation(i + 1), b->activation(i + 1), N * a->layer(i + 1).out_shape().size()));
      }
    a->zero_grad();
    b->zero_grad();
    a->backward(dlogits.data(), N);
    b->backward(dlogits.data(), N);
    REQUIRE(same(a->grads().data(), b->grads().data(), a->grads().size()));
    CHECK(same(a->buffers().data(), b->buffers().data(), a->buffers().size()));
    for (std::size_t p = 0; p < a->params().size(); ++p) {  // a step, so that the next one differs
      a->params()[p] -= 0.05f * a->grads()[p];
      b->params()[p] -= 0.05f * b->grads()[p];
    }
  }
  const float* za = a->forward(x.data(), N, Mode::eval, Keep::all);
  const float* zb = b->forward(x.data(), N, Mode::eval, Keep::logits);
  CHECK(same(za, zb, N * K));
}

}  // namespace

TEST_CASE("fused relu: the bytes of the two layers apart, every model and norm that fuses") {
  struct Case {
    const char* model;
    NormKind norm;
    const char* placement;
    double dropout;
    std::size_t min_pairs;  // fused pairs the model must have: the check is not vacuous
  };
  const Case cases[] = {
      {"mlp", NormKind::none, "before", 0, 2},         {"mlp", NormKind::batch, "before", 0, 2},
      {"mlp", NormKind::layer, "after", 0.3, 2},       {"mlp", NormKind::batch_renorm, "before", 0, 2},
      {"cnn", NormKind::none, "before", 0, 1},         {"cnn", NormKind::group, "before", 0, 1},
      {"cnn", NormKind::noisy_batch, "before", 0, 1},  {"cnn-small", NormKind::batch, "before", 0, 2},
      {"cnn-small", NormKind::layer, "before", 0, 2},  {"cnn-small", NormKind::group, "after", 0, 2},
      {"cnn-deep", NormKind::layer, "before", 0, 3},   {"cnn-deep", NormKind::none, "before", 0, 3},
      {"cnn-deep", NormKind::ghost_batch, "after", 0, 3}, {"resnet", NormKind::batch, "before", 0, 1},
      {"cnn-plain", NormKind::group, "before", 0, 1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.model);
    CAPTURE(int(c.norm));
    CAPTURE(c.placement);
    ModelConfig mc;
    mc.model = c.model;
    mc.norm.kind = c.norm;
    mc.norm.groups = 4;
    mc.norm.ghost_batch = 3;
    mc.placement = c.placement;
    mc.dropout = c.dropout;
    mc.seed = 3;
    if (std::string(c.model) == "mlp") mc.widths = {24, 16};
    auto probe = build_model<float>(mc, 1);
    CHECK(fused_pairs(*probe) >= c.min_pairs);
    check_same_bytes(mc, 5);
  }
}

TEST_CASE("fused relu: which pairs fuse") {
  SUBCASE("tanh and sigmoid are never fused") {
    ModelConfig mc;
    mc.widths = {16, 16};
    mc.norm.kind = NormKind::batch;
    mc.activation = ActKind::tanh;
    CHECK(fused_pairs(*build_model<float>(mc, 4)) == 0);
    check_same_bytes(mc, 4);
  }
  SUBCASE("a relu that is the last layer is not fused: its output gradient is the caller's") {
    Sequential<float> m(Shape{6, 1, 1});
    m.add<Dense<float>>(5);
    m.add<Activation<float>>(ActKind::relu);
    m.finalize(3);
    CHECK_FALSE(m.relu_fusable(0));
  }
  SUBCASE("a relu after a layer whose backward reads its output is not fused") {
    Sequential<float> m(Shape{6, 1, 1});
    m.add<Dense<float>>(5);
    m.add<Activation<float>>(ActKind::tanh);
    m.add<Activation<float>>(ActKind::relu);
    m.add<Dense<float>>(4);
    m.finalize(3);
    CHECK_FALSE(m.relu_fusable(0));  // dense -> tanh: not a relu
    CHECK_FALSE(m.relu_fusable(1));  // tanh's backward reads its output
    CHECK_FALSE(m.relu_fusable(2));
  }
  SUBCASE("dense -> relu -> dense fuses, and Keep::all still writes the dense layer's own output") {
    Sequential<float> m(Shape{6, 1, 1});
    m.add<Dense<float>>(5);
    m.add<Activation<float>>(ActKind::relu);
    m.add<Dense<float>>(4);
    m.finalize(3);
    CHECK(m.relu_fusable(0));
    init_model(m, InitSpec{}, 1);
    std::vector<float> x(18);
    Rng r(2);
    for (auto& v : x) v = float(r.normal());
    m.forward(x.data(), 3, Mode::train, Keep::all);
    bool negative = false;  // a pre-activation below zero: the relu's input, not its output
    for (int i = 0; i < 15; ++i) negative |= m.activation(0)[i] < 0;
    CHECK(negative);
  }
}

TEST_CASE("fused relu: backward in place gives the bytes of backward into a zeroed buffer") {
  // Planted output gradients (signed zeros, infinities, NaN) against planted outputs (positive,
  // zero, negative, NaN), at every position of vector bodies and tails.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float grads[] = {-0.f, 0.f, 1.5f, -2.f, inf, -inf, nan};
  const float outs[] = {1.f, 0.f, -0.f, -1.f, nan, 3e-39f};
  for (int n : {1, 7, 8, 9, 16, 23}) {
    CAPTURE(n);
    Activation<float> relu(Shape{n, 1, 1}, ActKind::relu);
    for (float g : grads)
      for (float o : outs)
        for (int at = 0; at < n; ++at) {
          std::vector<float> d(n, 0.25f), out(n, 2.f), din(n, 0.f);
          d[at] = g;
          out[at] = o;
          relu.backward(din.data(), d.data(), nullptr, out.data(), 1);
          relu.backward_in_place(d.data(), out.data(), 1);
          CHECK(same(d.data(), din.data(), n));
        }
  }
}
