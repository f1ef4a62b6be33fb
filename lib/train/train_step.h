#pragma once
// One optimization step, with every buffer allocated at construction:
//   forward (train mode) -> loss -> [stop if not finite or above the limit]
//   -> zero grads -> backward -> global gradient norm -> optimizer update.
// The norm (an ordered sum in double: one long dependency chain) is computed when the caller
// wants it (want_norm: the trainer records it at evaluation steps) or clipping needs it;
// otherwise the gradient is only checked to be finite, which decides the same thing, and
// grad_norm is NaN. A non-finite gradient always gets its norm, as before.
// REQUIRES (for run): n <= max_batch given at construction.
#include <cstdint>
#include <vector>

#include "nn/sequential.h"
#include "optim/optimizer.h"

namespace normlab {

struct StepOutcome {
  double loss = 0;
  double grad_norm = 0;  // NaN when not computed (see above)
  bool updated = false;  // false: loss or gradient not finite, or loss > limit; no update made
};

class TrainStep {
 public:
  TrainStep(Sequential<float>& model, const OptimConfig& cfg, int max_batch);
  StepOutcome run(const float* x, const int32_t* y, int n, double lr, double loss_limit, bool want_norm = true);
  Optimizer& optimizer() { return opt_; }

 private:
  Sequential<float>& model_;
  Optimizer opt_;
  int K_;
  std::vector<float> probs_;    // (max_batch, K)
  std::vector<float> dlogits_;  // (max_batch, K)
};

}  // namespace normlab
