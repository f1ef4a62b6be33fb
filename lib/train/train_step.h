#pragma once
// One optimization step, with every buffer allocated at construction:
//   forward (train mode) -> loss -> [stop if not finite or above the limit]
//   -> zero grads -> backward -> global gradient norm -> optimizer update.
// REQUIRES (for run): n <= max_batch given at construction.
#include <cstdint>
#include <vector>

#include "nn/sequential.h"
#include "optim/optimizer.h"

namespace normlab {

struct StepOutcome {
  double loss = 0;
  double grad_norm = 0;
  bool updated = false;  // false: loss or gradient not finite, or loss > limit; no update made
};

class TrainStep {
 public:
  TrainStep(Sequential<float>& model, const OptimConfig& cfg, int max_batch);
  StepOutcome run(const float* x, const int32_t* y, int n, double lr, double loss_limit);
  Optimizer& optimizer() { return opt_; }

 private:
  Sequential<float>& model_;
  Optimizer opt_;
  int K_;
  std::vector<float> probs_;    // (max_batch, K)
  std::vector<float> dlogits_;  // (max_batch, K)
};

}  // namespace normlab
