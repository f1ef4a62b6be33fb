// The work a training step is counted to do (bench/step_timing.h), against the
// closed forms written out by hand from the layer shapes: GEMM FLOPs 2*M*N*K per
// product (forward, weight gradient, and input gradient except for the first
// layer); normalization 13 FLOPs and 36 bytes per normalized value.
#include <doctest/doctest.h>

#include "bench/step_timing.h"

using namespace normlab;

namespace {
BenchRow counted(const std::string& model, std::vector<int> widths, NormKind norm, int N) {
  ModelConfig mc;
  mc.model = model;
  mc.widths = std::move(widths);
  mc.norm.kind = norm;
  mc.norm.groups = 4;
  TimingOptions quick;
  quick.warmup = 0;
  quick.min_repeats = 1;
  quick.min_total_s = 0;
  quick.max_repeats = 1;
  return time_train_step(mc, OptimConfig{}, N, quick, false);
}
}  // namespace

TEST_CASE("step work: an MLP's GEMM and normalization counts are the closed forms") {
  const int N = 32;
  // 784 -> 128 -> 64 -> 10: the first product twice, the others three times.
  const double gemm = 2 * 2.0 * N * 128 * 784 + 3 * 2.0 * N * 64 * 128 + 3 * 2.0 * N * 10 * 64;
  const BenchRow none = counted("mlp", {128, 64}, NormKind::none, N);
  CHECK(none.flops == gemm);
  CHECK(none.norm_flops == 0);
  CHECK(none.norm_bytes == 0);
  // Two norm layers over 128 and 64 features: the same count for every norm kind.
  for (NormKind k : {NormKind::batch, NormKind::layer, NormKind::group}) {
    const BenchRow r = counted("mlp", {128, 64}, k, N);
    CHECK(r.flops == gemm);
    CHECK(r.norm_flops == 13.0 * N * (128 + 64));
    CHECK(r.norm_bytes == 36.0 * N * (128 + 64));
  }
}

TEST_CASE("step work: a conv layer's normalization covers every spatial position") {
  const int N = 8;
  // cnn: conv 3x3, 1 -> 32 channels, no padding: 26 x 26 outputs; then 32*26*26 -> 10.
  const double E = double(N) * 32 * 26 * 26;
  const BenchRow r = counted("cnn", {32}, NormKind::batch, N);
  CHECK(r.flops == 2 * 2.0 * N * 32 * 9 * 26 * 26 + 3 * 2.0 * N * 10 * (32 * 26 * 26));
  CHECK(r.norm_flops == 13.0 * E);
  CHECK(r.norm_bytes == 36.0 * E);
}
