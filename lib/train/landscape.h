#pragma once
// The loss landscape along the gradient (Santurkar et al. 2018, "How does
// batch normalization help optimization?", sec. 3.1 and Fig. 4), measured on a
// fixed training batch (x, y) at weights w, in train mode (batch statistics,
// as the optimizer sees the loss):
//   g      = grad L(w)
//   w_c    = w - c * lr * g                 c in kLandscapeSteps = {0.5, 1, 2, 4}
//   L_c    = L(w_c),  g_c = grad L(w_c)
//   loss_range  = max - min of {L(w), L_c}            variation of the loss
//   grad_change = max_c ||g - g_c||_2                 gradient predictiveness (smaller: more predictive)
//   beta        = max_c ||g - g_c||_2 / ||c lr g||_2   "effective" beta-smoothness
// A loss or gradient that is not finite at some c makes the measures +inf (the
// landscape blew up within 4 steps), never NaN.
#include <cstdint>
#include <vector>

#include "nn/sequential.h"
#include "tensor/rng.h"
#include "train/run_result.h"

namespace normlab {

inline constexpr double kLandscapeSteps[] = {0.5, 1, 2, 4};

class LandscapeProbe {
 public:
  // REQUIRES: x holds n samples of the model's input, y their labels; n <= model.max_batch().
  LandscapeProbe(Sequential<float>& model, std::vector<float> x, std::vector<int32_t> y, int n);
  // Measures at the model's current weights with step size lr. Leaves the model
  // exactly as it found it: parameters, gradients, running statistics and random
  // streams are restored (each forward starts from the same random state, so
  // dropout draws the same masks at every c), and training never depends on it.
  LandscapePoint measure(long step, double lr);

 private:
  double loss_and_grad(std::vector<float>& grad);  // at the current parameters, from the saved state

  Sequential<float>& model_;
  std::vector<float> x_;
  std::vector<int32_t> y_;
  int n_, K_;
  std::vector<float> w0_, g0_, gc_, saved_grads_, saved_buffers_, probs_, dlogits_;
  std::vector<Rng*> rngs_;       // the model's random streams (Layer::rngs)
  std::vector<Rng> saved_rngs_;  // their state before the probe
};

}  // namespace normlab
