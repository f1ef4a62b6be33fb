#pragma once
// Optimizers over one flat parameter array, PyTorch semantics (weight decay is
// L2 added to the gradient, as torch.optim.SGD/Adam, not AdamW).
#include <string>
#include <cmath>
#include <vector>

namespace normlab {

struct OptimConfig {
  std::string kind = "sgd";  // sgd | momentum | adam
  double momentum = 0.9;     // momentum (and nesterov)
  bool nesterov = false;
  double weight_decay = 0;
  double beta1 = 0.9, beta2 = 0.999, adam_eps = 1e-8;
  double clip_norm = 0;      // > 0: scale gradients to this global L2 norm at most
};

// Throws ConfigError naming sgd|momentum|adam or the bad value.
void validate(const OptimConfig& c);

// The update loops' code path. `vector` is compiled for AVX2 without FMA: the loops are
// element by element with no reduction, so 8-wide vectors round exactly as SSE2's 4-wide
// ones do, and every path gives the same bytes. `baseline` runs on any x86-64; `best`
// picks vector when the CPU has AVX2.
enum class OptimIsa { best, vector, baseline };
bool optim_vector_supported();

class Optimizer {
 public:
  Optimizer(const OptimConfig& cfg, std::size_t n);
  // One update of p (n) from g (n) at learning rate lr. g is read only
  // (clipping is applied as a scale, not written back). norm: global_norm(g, n) when the
  // caller has it (clipping then needs no second pass); NaN: computed here if clipping.
  void step(float* p, const float* g, double lr, double norm = std::nan(""), OptimIsa isa = OptimIsa::best);
  // From now on, p[begin, end) steps at lr * factor (sgd, momentum: the parameters of
  // scale-hidden's layers step at c^2 times the lr). Allocates once, never in step.
  // REQUIRES: begin <= end <= n; factor > 0; optimizer sgd or momentum.
  void scale_lr(std::size_t begin, std::size_t end, double factor);
  long steps() const { return t_; }
  const OptimConfig& config() const { return cfg_; }

 private:
  OptimConfig cfg_;
  std::size_t n_;
  std::vector<float> m_, v_;  // momentum buffer / Adam first and second moments
  std::vector<float> lr_factor_;  // (n) per-parameter lr factors; empty: 1 everywhere
  long t_ = 0;
};

// Global L2 norm of g (n), accumulated in double: eight partial sums (element i into sum
// i % 8, in index order), the tail, then the sums in order. Finite iff every element is
// (each square is exact in double and their sum cannot overflow).
double global_norm(const float* g, std::size_t n);

// Whether every element of g (n) is finite; the same answer as isfinite(global_norm(g, n)),
// in one pass with no dependency chain.
bool all_finite(const float* g, std::size_t n);

}  // namespace normlab
