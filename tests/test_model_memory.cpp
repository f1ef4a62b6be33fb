// model_memory_bytes: the estimate the memory limit is checked against equals
// what build_model then allocates for parameters and activations, and a huge
// model is estimated without being built.
#include <doctest/doctest.h>

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
