#pragma once
// One normalization core for batch, layer and group norm.
//
// x is viewed as (N, C, S) with S = H*W (S = 1 for dense features). The three
// norms differ only in the index set a statistic is taken over:
//   batch: one statistic per channel c, over (n, s)            M = N*S
//   group: one statistic per (n, g), over (c in g, s)          M = C/G*S
//   layer: group with G = 1, over (c, s)                       M = C*S
// The affine is per channel (BN, GN) or per element of (C, S) (LN, as
// PyTorch's elementwise_affine over normalized_shape = (C, H, W)).
//
// Shapes below: x, y, dx, dy are (N, C, S); a statistic array (mean, rstd,
// var) is (stat_count()): (C) for batch, (N, G) for group; gamma, beta,
// dgamma, dbeta are (affine_size()): (C), or (C, S) if elementwise_affine.
// Every backward ACCUMULATES (+=) into dx, dgamma and dbeta; the caller zeroes.
//
// Sums over a span run in 8 fixed lanes, combined in a fixed tree (norm_core.cpp), so
// the AVX2 compilation and the portable one give the same bytes; `isa` picks one
// (ConvIsa, conv2d.h: best = AVX2 when the CPU has it and NORMLAB_CONV_ISA allows).
#include "core/errors.h"
#include "nn/conv2d.h"

namespace normlab {

struct NormDims {
  enum class Over { batch, group };
  int N = 0, C = 0, S = 1;
  Over over = Over::batch;
  int groups = 1;                   // used when over == group
  bool elementwise_affine = false;  // gamma/beta of shape (C, S) instead of (C)

  int stat_count() const { return over == Over::batch ? C : N * groups; }
  int blocks_per_stat() const { return over == Over::batch ? N : C / groups; }
  long group_size() const { return long(blocks_per_stat()) * S; }  // M
  // The b-th (n, c) block of statistic i; a block is the S contiguous values x[n, c, :].
  void block(int i, int b, int& n, int& c) const {
    if (over == Over::batch) {
      n = b;
      c = i;
    } else {
      n = i / groups;
      c = (i % groups) * (C / groups) + b;
    }
  }
  int affine_size() const { return elementwise_affine ? C * S : C; }
};

// Thrown for shapes or settings no norm can use (a group count that does not
// divide the channels, a batch statistic over a single value).
struct NormError : ConfigError {
  using ConfigError::ConfigError;
};

// Statistics over each group i of M = group_size() values, in double (moments
// about a shift, see norm_core.cpp):
//   mean[i] = sum(x)/M, var[i] = sum((x-mean)^2)/M (biased), rstd[i] = 1/sqrt(var+eps)
//   mean, rstd, var (stat_count)   outputs; var may be null
//   x (N, C, S)                    input
// REQUIRES: N, C, S >= 1; groups divides C when over == group; eps > 0.
template <class T>
void norm_stats(T* mean, T* rstd, T* var, const T* x, const NormDims& d, double eps,
                ConvIsa isa = ConvIsa::best);

// y = (x - mean[i]) * rstd[i] * gamma + beta, folded as y = x*alpha + beta'; then epi.
//   y (N, C, S)                    output
//   x (N, C, S)                    input
//   mean, rstd (stat_count)        from norm_stats (or running averages in eval)
//   gamma, beta (affine_size)      parameters; both null means no affine (gamma = 1, beta = 0)
// REQUIRES: as norm_stats; gamma and beta both null or both non-null.
template <class T>
void norm_apply(T* y, const T* x, const T* mean, const T* rstd, const T* gamma, const T* beta,
                const NormDims& d, ConvIsa isa = ConvIsa::best, Epilogue epi = Epilogue::none);

// Backward of norm_apply ∘ norm_stats (train mode), accumulating.
//   xhat = (x-mean)*rstd, dxhat = dy*gamma
//   dgamma += sum dy*xhat, dbeta += sum dy           (over n, and s if per channel)
//   dx += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat*xhat))   (means over the group)
// Two reductions per group, then one pass adding into dx.
//   dx (N, C, S)                   accumulated
//   dgamma, dbeta (affine_size)    accumulated; not touched (may be null) if gamma is null
//   dy, x (N, C, S)                inputs: output gradient, the forward's input
//   mean, rstd (stat_count)        what norm_stats gave for this x
//   gamma (affine_size)            parameter, or null for no affine
// REQUIRES: as norm_stats; dx aliases neither dy nor x.
template <class T>
void norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean,
                   const T* rstd, const T* gamma, const NormDims& d, ConvIsa isa = ConvIsa::best);

// Backward when the statistics are constants (eval mode, running averages):
//   dx += dy * gamma * rstd, and the same dgamma/dbeta as above.
// Arguments and REQUIRES as norm_backward; mean, rstd are the constants the forward used.
template <class T>
void norm_backward_fixed_stats(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean,
                               const T* rstd, const T* gamma, const NormDims& d);

}  // namespace normlab
