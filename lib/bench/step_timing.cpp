// Training-step timing (contract in step_timing.h). GEMM work per layer and
// step, batch N: dense (out x in) 3 x 2*N*out*in (2x for the first layer);
// conv 3 x 2*N*Cout*(Cin*k*k)*Hout*Wout (2x for the first layer).
// Normalization per step: 13 flops and 36 bytes per normalized value (step_timing.h).
#include "bench/step_timing.h"

#include <algorithm>
#include <chrono>

#include "init/init.h"
#include "nn/residual.h"
#include "tensor/gemm.h"
#include "tensor/rng.h"
#include "train/train_step.h"

namespace normlab {

BenchRow time_train_step(const ModelConfig& mc, const OptimConfig& oc, int N, const TimingOptions& opt,
                         bool gemm_part) {
  auto model = build_model<float>(mc, N);
  init_model(*model, InitSpec{}, 1);
  TrainStep step(*model, oc, N);
  std::vector<float> x(std::size_t(N) * model->input_shape().size());
  Rng r(5);
  for (auto& v : x) v = 0.5f + 0.2f * float(r.normal());
  std::vector<int32_t> y(N);
  for (int i = 0; i < N; ++i) y[i] = i % mc.classes;
  const Timing t = time_it([&] { step.run(x.data(), y.data(), N, 0.01, 1e30, false); }, opt);
  BenchRow row;
  row.median_s = t.median_s;
  row.min_s = t.min_s;
  row.spread(t);
  row.items = N;
  if (gemm_part) {
    // The fraction of a step's time spent inside gemm, over a few more steps
    // with the timer on, applied to the median step time.
    const int K = std::clamp(t.repeats, 3, 50);
    gemm_timer_reset();
    gemm_timer_enable(true);
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < K; ++k) step.run(x.data(), y.data(), N, 0.01, 1e30, false);
    const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    gemm_timer_enable(false);
    row.gemm_s = t.median_s * gemm_timer_seconds() / total;
  }
  auto count = [&](const Layer<float>& L, double passes) {
    const auto ps = L.params();
    if (L.kind() == "linear") row.flops += passes * 2.0 * N * ps[0].shape[0] * ps[0].shape[1];
    if (L.kind() == "conv2d") {
      const double k = double(ps[0].shape[1]) * ps[0].shape[2] * ps[0].shape[3];
      row.flops += passes * 2.0 * N * ps[0].shape[0] * k * L.out_shape().spatial();
    }
    if (L.kind() == "batchnorm" || L.kind() == "layernorm" || L.kind() == "groupnorm") {
      const double E = double(N) * double(L.out_shape().size());
      row.norm_flops += 13.0 * E;
      row.norm_bytes += 36.0 * E;
    }
    if (L.kind() == "rnn") {  // per step x_t W_ih^T (T steps), h W_hh^T (T-1 steps)
      const double H = ps[0].shape[0], D = ps[0].shape[1], T = L.in_shape().h;
      row.flops += passes * 2.0 * N * (T * H * D + (T - 1) * H * H);
    }
  };
  for (std::size_t i = 0; i < model->num_layers(); ++i) {
    count(model->layer(i), i == 0 ? 2 : 3);
    if (auto* block = dynamic_cast<const ResidualBlock<float>*>(&model->layer(i)))  // its convs and norms
      for (std::size_t k = 0; k < block->num_parts(); ++k) count(block->part(k), 3);
  }
  return row;
}

}  // namespace normlab
