// Update rules (t counts from 1; d = g*clip + wd*p):
//   sgd      p -= lr*d
//   momentum b = d (t=1), b = mu*b + d (t>1);  p -= lr*b   (nesterov: p -= lr*(d + mu*b))
//   adam     m = b1*m + (1-b1)*d;  v = b2*v + (1-b2)*d^2
//            p -= (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
// which is torch.optim's arithmetic, step for step.
#include "optim/optimizer.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/errors.h"

namespace normlab {

void validate(const OptimConfig& c) {
  if (c.kind != "sgd" && c.kind != "momentum" && c.kind != "adam")
    throw ConfigError(
        fmt::format("optimizer: unknown value '{}' (allowed: sgd, momentum, adam)", c.kind));
  if (!(c.momentum >= 0 && c.momentum < 1))
    throw ConfigError(fmt::format("momentum: {} (allowed: 0 <= momentum < 1)", c.momentum));
  if (!(c.weight_decay >= 0))
    throw ConfigError(fmt::format("weight-decay: {} (allowed: >= 0)", c.weight_decay));
  if (!(c.clip_norm >= 0))
    throw ConfigError(fmt::format("clip-norm: {} (allowed: >= 0, 0 = off)", c.clip_norm));
}

Optimizer::Optimizer(const OptimConfig& cfg, std::size_t n) : cfg_(cfg), n_(n) {
  validate(cfg);
  if (cfg.kind != "sgd") m_.assign(n, 0.f);
  if (cfg.kind == "adam") v_.assign(n, 0.f);
}

double global_norm(const float* g, std::size_t n) {
  // Eight partial sums in a fixed order (deterministic) let the loop vectorize;
  // a single running sum is one long dependency chain.
  double acc[8] = {};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) acc[k] += double(g[i + k]) * g[i + k];
  double s = 0;
  for (; i < n; ++i) s += double(g[i]) * g[i];
  for (double a : acc) s += a;
  return std::sqrt(s);
}

namespace {
// A float is Inf or NaN iff its exponent bits are all ones; OR-ing the test over the
// elements has no order, so it vectorizes freely, and any vector width gives the same
// answer (integer bit tests: no rounding).
[[gnu::always_inline]] inline bool finite_bits(const float* g, std::size_t n) {
  uint32_t bad = 0;
  for (std::size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, g + i, sizeof u);
    bad |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}
__attribute__((target("avx2"))) bool finite_bits_avx2(const float* g, std::size_t n) { return finite_bits(g, n); }
bool finite_bits_baseline(const float* g, std::size_t n) { return finite_bits(g, n); }
}  // namespace

bool optim_vector_supported() {
  static const bool ok = __builtin_cpu_supports("avx2");
  return ok;
}

bool all_finite(const float* g, std::size_t n) {
  // Every step reads the whole gradient once here (a tenth of a small-batch cnn step
  // with SSE2's 16-byte vectors); AVX2's 32-byte vectors where the CPU has them.
  return optim_vector_supported() ? finite_bits_avx2(g, n) : finite_bits_baseline(g, n);
}

void Optimizer::scale_lr(std::size_t begin, std::size_t end, double factor) {
  if (cfg_.kind == "adam")
    throw ConfigError("scale_lr: Adam's step does not scale with the lr as SGD's does (allowed: sgd, momentum)");
  if (lr_factor_.empty()) lr_factor_.assign(n_, 1.f);
  std::fill(lr_factor_.begin() + long(begin), lr_factor_.begin() + long(end), float(factor));
}

namespace {

// One step's scalars; the loops below read nothing else but the arrays.
struct Update {
  enum class Kind { sgd, momentum, adam } kind;
  float clip, wd, flr;
  const float* factor;  // (n) per-parameter lr factors, or null
  float mu;             // momentum
  bool first, nesterov;
  float b1, b2, eps, step_size, rbc2;  // adam
};

// The update of every element, in the formulas at the top of this file. The loops
// without factors are the ones every run without scale-hidden has always made.
[[gnu::always_inline]] inline void update_loops(const Update& u, float* p, const float* g, float* m, float* v,
                                                std::size_t n) {
  const float clip = u.clip, wd = u.wd, flr = u.flr;
  const float* f = u.factor;
  switch (u.kind) {
    case Update::Kind::sgd:
      if (!f)
        for (std::size_t i = 0; i < n; ++i) p[i] -= flr * (g[i] * clip + wd * p[i]);
      else
        for (std::size_t i = 0; i < n; ++i) p[i] -= flr * f[i] * (g[i] * clip + wd * p[i]);
      return;
    case Update::Kind::momentum: {
      const float mu = u.mu;
      const auto update = [&](std::size_t i, float lr_i) {
        const float d = g[i] * clip + wd * p[i];
        m[i] = u.first ? d : mu * m[i] + d;
        p[i] -= lr_i * (u.nesterov ? d + mu * m[i] : m[i]);
      };
      if (!f)
        for (std::size_t i = 0; i < n; ++i) update(i, flr);
      else
        for (std::size_t i = 0; i < n; ++i) update(i, flr * f[i]);
      return;
    }
    case Update::Kind::adam: {
      const float b1 = u.b1, b2 = u.b2, eps = u.eps, step_size = u.step_size, rbc2 = u.rbc2;
      for (std::size_t i = 0; i < n; ++i) {
        const float d = g[i] * clip + wd * p[i];
        m[i] = b1 * m[i] + (1.f - b1) * d;
        v[i] = b2 * v[i] + (1.f - b2) * d * d;
        p[i] -= step_size * m[i] / (std::sqrt(v[i]) * rbc2 + eps);
      }
      return;
    }
  }
}

// Every step reads and writes every parameter here: at small batches a tenth or more
// of the step with SSE2's 4-wide vectors. No "fma" in the target: GCC contracts a*b + c
// in C++ by default, and a fused loop would round differently from the baseline's.
__attribute__((target("avx2"))) void update_vector(const Update& u, float* p, const float* g, float* m, float* v,
                                                   std::size_t n) {
  update_loops(u, p, g, m, v, n);
}
void update_baseline(const Update& u, float* p, const float* g, float* m, float* v, std::size_t n) {
  update_loops(u, p, g, m, v, n);
}

}  // namespace

void Optimizer::step(float* p, const float* g, double lr, double norm, OptimIsa isa) {
  ++t_;
  Update u{};
  u.clip = 1.f;
  if (cfg_.clip_norm > 0) {
    if (std::isnan(norm)) norm = global_norm(g, n_);
    if (norm > cfg_.clip_norm) u.clip = float(cfg_.clip_norm / (norm + 1e-6));
  }
  u.wd = float(cfg_.weight_decay);
  u.flr = float(lr);
  u.factor = lr_factor_.empty() ? nullptr : lr_factor_.data();  // the lr of parameter i: flr, or flr times its factor
  if (cfg_.kind == "sgd") {
    u.kind = Update::Kind::sgd;
  } else if (cfg_.kind == "momentum") {
    u.kind = Update::Kind::momentum;
    u.mu = float(cfg_.momentum);
    u.first = t_ == 1;
    u.nesterov = cfg_.nesterov;
  } else {
    u.kind = Update::Kind::adam;
    u.b1 = float(cfg_.beta1);
    u.b2 = float(cfg_.beta2);
    u.eps = float(cfg_.adam_eps);
    const double bc1 = 1.0 - std::pow(cfg_.beta1, double(t_));
    const double bc2 = 1.0 - std::pow(cfg_.beta2, double(t_));
    u.step_size = float(lr / bc1);
    u.rbc2 = float(1.0 / std::sqrt(bc2));
  }
  const bool vec = isa == OptimIsa::vector || (isa == OptimIsa::best && optim_vector_supported());
  (vec ? update_vector : update_baseline)(u, p, g, m_.data(), v_.data(), n_);
}

}  // namespace normlab
