// model_memory_bytes: the estimate the memory limit is checked against equals
// what build_model then allocates for parameters and activations, and a huge
// model is estimated without being built.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "nn/model.h"

using namespace normlab;

TEST_CASE("model memory: the estimate matches the built model's arrays") {
  for (const char* kind : {"mlp", "cnn-small"}) {
    ModelConfig c;
    c.model = kind;
    c.norm.kind = NormKind::batch;
    c.input = std::string(kind) == "mlp" ? Shape{16, 1, 1} : Shape{1, 8, 8};
    c.widths = std::string(kind) == "mlp" ? std::vector<int>{32, 16} : std::vector<int>{4};
    c.classes = 4;
    const int N = 8;
    auto m = build_model<float>(c, N);
    double acts = double(N) * double(m->input_shape().size());
    for (std::size_t i = 0; i < m->num_layers(); ++i)
      if (!(m->layer(i).kind() == "flatten" && i > 0 && i + 1 < m->num_layers()))
        acts += 2.0 * N * double(m->layer(i).out_shape().size());
    for (std::size_t i = 0; i < m->num_layers(); ++i) acts += m->layer(i).scratch_numel(N);
    const double want = 4.0 * (4.0 * double(m->params().size()) + double(m->buffers().size()) + acts);
    CHECK(model_memory_bytes(c, N) == doctest::Approx(want));
  }
}

TEST_CASE("model memory: widths = [32, 100000000] is estimated, not allocated") {
  ModelConfig c;
  c.input = Shape{16, 1, 1};
  c.widths = {32, 100000000};
  // Dense 32 -> 1e8 alone is 3.2e9 parameters: 51 GB with gradients and optimizer state.
  CHECK(model_memory_bytes(c, 64) > 5e10);
}

TEST_CASE("model memory: activation gradients are reserved at the backward batch only") {
  for (const char* kind : {"mlp", "cnn-small", "rnn"}) {
    ModelConfig c;
    c.model = kind;
    c.norm.kind = NormKind::batch;
    const bool mlp = std::string(kind) == "mlp", rnn = std::string(kind) == "rnn";
    c.input = mlp ? Shape{16, 1, 1} : rnn ? Shape{1, 6, 5} : Shape{1, 8, 8};
    c.widths = mlp ? std::vector<int>{32, 16} : rnn ? std::vector<int>{12} : std::vector<int>{4};
    c.classes = 4;
    const int N = 40, NB = 6;
    auto m = build_model<float>(c, N, NB);
    CAPTURE(kind);
    CHECK(m->max_batch() == N);
    CHECK(m->max_backward() == NB);
    // The closed form: activations at N, their gradients at NB (the flatten view has neither).
    double acts = double(N) * double(m->input_shape().size());
    for (std::size_t i = 0; i < m->num_layers(); ++i) {
      if (!(m->layer(i).kind() == "flatten" && i > 0 && i + 1 < m->num_layers()))
        acts += double(N + NB) * double(m->layer(i).out_shape().size());
      acts += m->layer(i).scratch_numel(N);
    }
    const double want = 4.0 * (4.0 * double(m->params().size()) + double(m->buffers().size()) + acts);
    CHECK(model_memory_bytes(c, N, NB) == doctest::Approx(want));
    CHECK(model_memory_bytes(c, N, NB) < model_memory_bytes(c, N));
    // Forward runs at N; backward at NB, and refuses NB + 1 instead of writing past its arrays.
    std::vector<float> x(std::size_t(N) * m->input_shape().size(), 0.5f), dz(std::size_t(N) * 4, 0.25f);
    m->forward(x.data(), N, Mode::eval);
    m->forward(x.data(), NB, Mode::train);
    CHECK_NOTHROW(m->backward(dz.data(), NB));
    m->forward(x.data(), NB + 1, Mode::train);
    CHECK_THROWS_AS(m->backward(dz.data(), NB + 1), std::invalid_argument);
  }
  ModelConfig c;
  c.input = Shape{16, 1, 1};
  CHECK_THROWS_AS(build_model<float>(c, 8, 9), std::invalid_argument);
  // The estimate refuses what finalize refuses (it had read a negative max_backward as max_batch).
  for (const auto& [nb, nbw] : std::vector<std::pair<int, int>>{{8, 9}, {8, -1}, {0, 0}, {-2, 0}}) {
    INFO(nb, " ", nbw);
    CHECK_THROWS_AS(model_memory_bytes(c, nb, nbw), std::invalid_argument);
  }
  CHECK(model_memory_bytes(c, 8, 0) == model_memory_bytes(c, 8, 8));
}
