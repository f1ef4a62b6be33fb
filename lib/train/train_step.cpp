// A training step (see train_step.h). Allocation-free after construction.
#include "train/train_step.h"

#include <algorithm>
#include <cmath>

#include "nn/softmax_xent.h"

namespace normlab {

TrainStep::TrainStep(Sequential<float>& model, const OptimConfig& cfg, int max_batch)
    : model_(model),
      opt_(cfg, model.params().size()),
      K_(int(model.output_shape().size())),
      probs_(std::size_t(max_batch) * K_),
      dlogits_(std::size_t(max_batch) * K_) {}

StepOutcome TrainStep::run(const float* x, const int32_t* y, int n, double lr, double loss_limit, bool want_norm) {
  StepOutcome o;
  const float* z = model_.forward(x, n, Mode::train, Keep::logits);  // a step reads no hidden activation
  o.loss = softmax_xent_forward(probs_.data(), z, y, n, K_);
  if (!std::isfinite(o.loss) || o.loss > loss_limit) return o;
  model_.zero_grad();
  std::fill_n(dlogits_.begin(), std::size_t(n) * K_, 0.f);
  softmax_xent_backward(dlogits_.data(), probs_.data(), y, n, K_);
  model_.backward(dlogits_.data(), n);
  const float* g = model_.grads().data();
  const std::size_t count = model_.grads().size();
  const bool norm = want_norm || opt_.config().clip_norm > 0 || !all_finite(g, count);
  o.grad_norm = norm ? global_norm(g, count) : std::nan("");
  if (norm && !std::isfinite(o.grad_norm)) return o;
  opt_.step(model_.params().data(), g, lr, o.grad_norm);
  o.updated = true;
  return o;
}

}  // namespace normlab
