// The loss landscape along the gradient (see landscape.h for the measures).
// Allocation-free after construction; every quantity is summed in double.
#include "train/landscape.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nn/softmax_xent.h"
#include "optim/optimizer.h"

namespace normlab {

LandscapeProbe::LandscapeProbe(Sequential<float>& model, std::vector<float> x, std::vector<int32_t> y, int n)
    : model_(model),
      x_(std::move(x)),
      y_(std::move(y)),
      n_(n),
      K_(int(model.output_shape().size())),
      w0_(model.params().size()),
      g0_(model.params().size()),
      gc_(model.params().size()),
      saved_grads_(model.grads().size()),
      saved_buffers_(model.buffers().size()),
      probs_(std::size_t(n) * K_),
      dlogits_(std::size_t(n) * K_) {
  for (std::size_t i = 0; i < model.num_layers(); ++i) model.layer(i).rngs(rngs_);
  saved_rngs_.reserve(rngs_.size());
}

double LandscapeProbe::loss_and_grad(std::vector<float>& grad) {
  // Every evaluation sees the state training left: running statistics and random streams.
  std::copy(saved_buffers_.begin(), saved_buffers_.end(), model_.buffers().begin());
  for (std::size_t i = 0; i < rngs_.size(); ++i) *rngs_[i] = saved_rngs_[i];
  const float* z = model_.forward(x_.data(), n_, Mode::train);
  const double loss = softmax_xent_forward(probs_.data(), z, y_.data(), n_, K_);
  model_.zero_grad();
  std::fill(dlogits_.begin(), dlogits_.end(), 0.f);
  softmax_xent_backward(dlogits_.data(), probs_.data(), y_.data(), n_, K_);
  model_.backward(dlogits_.data(), n_);
  std::copy(model_.grads().begin(), model_.grads().end(), grad.begin());
  return loss;
}

LandscapePoint LandscapeProbe::measure(long step, double lr) {
  constexpr double inf = std::numeric_limits<double>::infinity();
  LandscapePoint p{.step = step, .lr = lr};
  // Phase 1: keep what training owns.
  auto& w = model_.params();
  std::copy(w.begin(), w.end(), w0_.begin());
  std::copy(model_.grads().begin(), model_.grads().end(), saved_grads_.begin());
  std::copy(model_.buffers().begin(), model_.buffers().end(), saved_buffers_.begin());
  saved_rngs_.clear();
  for (Rng* r : rngs_) saved_rngs_.push_back(*r);

  // Phase 2: the loss and gradient at w, then at each step along -g.
  p.loss = loss_and_grad(g0_);
  const double gnorm = global_norm(g0_.data(), g0_.size());
  double lo = p.loss, hi = p.loss;
  bool blew_up = !std::isfinite(p.loss) || !std::isfinite(gnorm);
  for (double c : kLandscapeSteps) {
    if (blew_up) break;
    const float eta = float(c * lr);
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = w0_[i] - eta * g0_[i];
    const double lc = loss_and_grad(gc_);
    double d2 = 0;
    for (std::size_t i = 0; i < gc_.size(); ++i) {
      const double d = double(g0_[i]) - double(gc_[i]);
      d2 += d * d;
    }
    const double d = std::sqrt(d2);
    if (!std::isfinite(lc) || !std::isfinite(d)) blew_up = true;
    lo = std::min(lo, lc);
    hi = std::max(hi, lc);
    p.grad_change = std::max(p.grad_change, d);
    p.beta = std::max(p.beta, gnorm > 0 ? d / (c * lr * gnorm) : 0.0);
  }
  p.loss_range = hi - lo;
  if (blew_up) p.loss_range = p.grad_change = p.beta = inf;

  // Phase 3: put everything back.
  std::copy(w0_.begin(), w0_.end(), w.begin());
  std::copy(saved_grads_.begin(), saved_grads_.end(), model_.grads().begin());
  std::copy(saved_buffers_.begin(), saved_buffers_.end(), model_.buffers().begin());
  for (std::size_t i = 0; i < rngs_.size(); ++i) *rngs_[i] = saved_rngs_[i];
  return p;
}

}  // namespace normlab
