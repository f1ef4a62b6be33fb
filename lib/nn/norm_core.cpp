// Normalization core (see norm_core.h for the index sets).
//
// Forward, per statistic group of M values:
//   mu = 1/M sum x,  var = 1/M sum (x-mu)^2,  rstd = (var+eps)^-1/2
//   y  = gamma*(x-mu)*rstd + beta  =  x*alpha + (beta - mu*alpha),  alpha = gamma*rstd
// Backward, with a1 = sum dxhat and a2 = sum dxhat*xhat over the group:
//   dx = rstd*(dxhat - a1/M - xhat*a2/M)
//      = dy*(gamma*rstd) + x*(-rstd^2*a2/M) + rstd*(mu*rstd*a2 - a1)/M
// Per (n,c) block only the two sums sum(dy) and sum(dy*x) are needed when the
// affine is per channel, so a group costs one reduction pass and one write pass.
//
// Statistics are moments about a shift K (the group's first value), summed in
// double: mu = K + s1/M, var = s2/M - (s1/M)^2 with s1 = sum(x-K), s2 = sum((x-K)^2).
// One read of x gives both, without the cancellation of the unshifted formula.
// Traversal follows the memory: a GN/LN group is one contiguous span; a BN
// channel is N strided spans of S (S = 1: per-channel accumulators across rows).
//
// Summation order (numerics 7): a sum over one span goes into kSumLanes = 8 lanes,
// element s into lane s % 8, each lane a chain of double adds in s order; the lanes
// are then combined as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). Sums
// across channels (BN with S = 1) are one chain per channel. The order is written
// in the source, not chosen by the vectorizer, so every function here is compiled
// twice, for AVX2 (no FMA: a fused a*b + c rounds differently) and for any x86-64,
// and both give the same bytes; ConvIsa (conv2d.h) picks one.
#include "nn/norm_core.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "nn/conv2d.h"

namespace normlab {

namespace {

#define NL_INLINE [[gnu::always_inline]] inline

constexpr int kSumLanes = 8;

// The lanes' total, in the fixed tree of the header.
NL_INLINE double lane_total(const double* l) {
  return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
}

// f(j, s) for every element s of [s0, n), with j = s % kSumLanes its lane (s0 a
// multiple of kSumLanes): the scalar form of every lane sum, and the tail of the
// vector forms below.
template <class F>
NL_INLINE void over_lanes(long s0, long n, F f) {
  long s = s0;
  for (; s + kSumLanes <= n; s += kSumLanes)
    for (int j = 0; j < kSumLanes; ++j) f(j, s + j);
  for (int j = 0; s + j < n; ++j) f(j, s + j);
}

// The vector compilation (Vec) takes a float span's whole rows of 8 through AVX2: a
// row's 8 lanes are two registers of 4 doubles (lanes 0-3, 4-7), every operation
// element-wise IEEE (a multiply, then an add: no fma), the same as the scalar lanes
// of the portable form. Each returns where its rows end; the caller's scalar form
// adds the tail into the same lanes.
#define NL_VEC __attribute__((target("avx2")))

NL_VEC inline void store_lanes(double* l, __m256d lo, __m256d hi) {
  _mm256_storeu_pd(l, lo);
  _mm256_storeu_pd(l + 4, hi);
}

// a[j] = sum (x - K), b[j] = sum (x - K)^2 over the rows' lane j
NL_VEC long moments_rows(const float* x, long n, double K, double* a, double* b) {
  const __m256d k = _mm256_set1_pd(K);
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  long s = 0;
  for (; s + kSumLanes <= n; s += kSumLanes) {
    const __m256d t0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + s)), k);
    const __m256d t1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + s + 4)), k);
    a0 = _mm256_add_pd(a0, t0);
    a1 = _mm256_add_pd(a1, t1);
    b0 = _mm256_add_pd(b0, _mm256_mul_pd(t0, t0));
    b1 = _mm256_add_pd(b1, _mm256_mul_pd(t1, t1));
  }
  store_lanes(a, a0, a1);
  store_lanes(b, b0, b1);
  return s;
}

// a[j] = sum dy, b[j] = sum dy*x over the rows' lane j
NL_VEC long dot2_rows(const float* dy, const float* x, long n, double* a, double* b) {
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  long s = 0;
  for (; s + kSumLanes <= n; s += kSumLanes) {
    const __m256d g0 = _mm256_cvtps_pd(_mm_loadu_ps(dy + s)), g1 = _mm256_cvtps_pd(_mm_loadu_ps(dy + s + 4));
    a0 = _mm256_add_pd(a0, g0);
    a1 = _mm256_add_pd(a1, g1);
    b0 = _mm256_add_pd(b0, _mm256_mul_pd(g0, _mm256_cvtps_pd(_mm_loadu_ps(x + s))));
    b1 = _mm256_add_pd(b1, _mm256_mul_pd(g1, _mm256_cvtps_pd(_mm_loadu_ps(x + s + 4))));
  }
  store_lanes(a, a0, a1);
  store_lanes(b, b0, b1);
  return s;
}

// layer norm's backward sums with gamma per element, over the rows (see backward_body):
// xh = (x - mu)*r; dg += dy*xh; db += dy; l1[j] += dy*g; l2[j] += (dy*g)*xh
NL_VEC long ln_backward_rows(float* dg, float* db, const float* dy, const float* x, const float* g, long n,
                             float mu, float r, double* l1, double* l2) {
  const __m256 vmu = _mm256_set1_ps(mu), vr = _mm256_set1_ps(r);
  __m256d p0 = _mm256_setzero_pd(), p1 = p0, q0 = p0, q1 = p0;
  long j = 0;
  for (; j + kSumLanes <= n; j += kSumLanes) {
    const __m256 d = _mm256_loadu_ps(dy + j), xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmu), vr);
    _mm256_storeu_ps(dg + j, _mm256_add_ps(_mm256_loadu_ps(dg + j), _mm256_mul_ps(d, xh)));
    _mm256_storeu_ps(db + j, _mm256_add_ps(_mm256_loadu_ps(db + j), d));
    const __m256d d0 = _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(dy + j)), _mm256_cvtps_pd(_mm_loadu_ps(g + j)));
    const __m256d d1 =
        _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(dy + j + 4)), _mm256_cvtps_pd(_mm_loadu_ps(g + j + 4)));
    p0 = _mm256_add_pd(p0, d0);
    p1 = _mm256_add_pd(p1, d1);
    q0 = _mm256_add_pd(q0, _mm256_mul_pd(d0, _mm256_cvtps_pd(_mm256_castps256_ps128(xh))));
    q1 = _mm256_add_pd(q1, _mm256_mul_pd(d1, _mm256_cvtps_pd(_mm256_extractf128_ps(xh, 1))));
  }
  store_lanes(l1, p0, p1);
  store_lanes(l2, q0, q1);
  return j;
}

// Per-thread scratch for per-channel accumulators; grows once, then reused,
// so steady-state training allocates nothing.
std::vector<double>& scratch(std::size_t n) {
  thread_local std::vector<double> v;
  if (v.size() < n) v.resize(n);
  return v;
}

// s1 += sum (x-K), s2 += sum (x-K)^2 over one span x (n), in double, in lanes.
template <bool Vec, class T>
NL_INLINE void moments(const T* x, long n, double K, double& s1, double& s2) {
  double a[kSumLanes] = {}, b[kSumLanes] = {};
  long s0 = 0;
  if constexpr (Vec && std::is_same_v<T, float>) s0 = moments_rows(x, n, K, a, b);
  // Scalar math: for s in [0, n): t = x[s] - K; a += t; b += t*t
  over_lanes(s0, n, [&](int j, long s) {
    const double t = double(x[s]) - K;
    a[j] += t;
    b[j] += t * t;
  });
  s1 += lane_total(a);
  s2 += lane_total(b);
}

// sdy += sum dy, sdyx += sum dy*x over one span dy, x (n), in double, in lanes.
template <bool Vec, class T>
NL_INLINE void dot2(const T* dy, const T* x, long n, double& sdy, double& sdyx) {
  double a[kSumLanes] = {}, b[kSumLanes] = {};
  long s0 = 0;
  if constexpr (Vec && std::is_same_v<T, float>) s0 = dot2_rows(dy, x, n, a, b);
  // Scalar math: for s in [0, n): a += dy[s]; b += dy[s]*x[s]
  over_lanes(s0, n, [&](int j, long s) {
    a[j] += double(dy[s]);
    b[j] += double(dy[s]) * double(x[s]);
  });
  sdy += lane_total(a);
  sdyx += lane_total(b);
}

// A value of y as stored: v itself, or relu(v) (Relu: a relu fused after the norm,
// the select of activation.cpp on the rounded value, so the bytes are the two passes').
template <bool Relu, class T>
NL_INLINE T store_value(T v) {
  if constexpr (Relu) return v > T(0) ? v : T(0);
  return v;
}

// y (n) = x (n) * a + b
template <bool Relu, class T>
NL_INLINE void axpb(T* y, const T* x, long n, T a, T b) {
  // Scalar math: for s in [0, n): y[s] = x[s]*a + b
#pragma omp simd
  for (long s = 0; s < n; ++s) y[s] = store_value<Relu>(T(x[s] * a + b));
}

// dx (n) += dy (n) * a + x (n) * kx + k0
template <class T>
NL_INLINE void dx_pass(T* dx, const T* dy, const T* x, long n, T a, T kx, T k0) {
  // Scalar math: for s in [0, n): dx[s] += dy[s]*a + x[s]*kx + k0
#pragma omp simd
  for (long s = 0; s < n; ++s) dx[s] += dy[s] * a + x[s] * kx + k0;
}

// Statistic i from the shifted sums: mean = K + s1/M, var = s2/M - (s1/M)^2 (clamped at 0).
template <class T>
NL_INLINE void finish_stats(T* mean, T* rstd, T* var, int i, double K, double s1, double s2, double M,
                            double eps) {
  const double m1 = s1 / M;
  const double v = std::max(0.0, s2 / M - m1 * m1);
  mean[i] = T(K + m1);
  rstd[i] = T(1.0 / std::sqrt(v + eps));
  if (var) var[i] = T(v);
}

// One GN group with one value per channel (S = 1, the rnn's GN): norm_backward's
// per-channel-block path with its one-element sums written out. The a1, a2 sums
// run over the channels in order, as there; the dx pass is vectorized across
// channels with the same operations per value. dx, dy, x: the group's (K) values.
template <class T>
NL_INLINE void group_backward_s1(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* gamma, long c0,
                                 long K, double mu, double r, double M) {
  double a1 = 0, a2 = 0;
  for (long k = 0; k < K; ++k) {
    const long c = c0 + k;
    // the sums over one value, as dot2 forms them (0 + v, so a -0 becomes +0 there too)
    const double sdy = 0.0 + double(dy[k]), sdyx = 0.0 + double(dy[k]) * double(x[k]);
    const double sdyxh = r * (sdyx - mu * sdy);
    const double g = gamma ? double(gamma[c]) : 1.0;
    if (gamma) {
      dgamma[c] += T(sdyxh);
      dbeta[c] += T(sdy);
    }
    a1 += g * sdy;
    a2 += g * sdyxh;
  }
  const T kx = T(-r * r * a2 / M), k0 = T(r * (mu * r * a2 - a1) / M);
#pragma omp simd
  for (long k = 0; k < K; ++k) {
    const T a = T(gamma ? gamma[c0 + k] * r : r);
    dx[k] += dy[k] * a + x[k] * kx + k0;
  }
}

template <bool Vec, class T>
NL_INLINE void stats_body(T* mean, T* rstd, T* var, const T* x, const NormDims& d, double eps) {
  const long S = d.S, C = d.C;
  const double M = double(d.group_size());
  if (d.over == NormDims::Over::group) {
    // LN and GN: statistic i = (n, g) is over one contiguous span of M values,
    // x[n, g*C/G : (g+1)*C/G, :] (LN: G = 1, the whole sample).
    for (int i = 0; i < d.stat_count(); ++i) {
      const T* g = x + long(i) * d.group_size();
      double s1 = 0, s2 = 0;
      moments<Vec>(g, d.group_size(), double(g[0]), s1, s2);
      finish_stats(mean, rstd, var, i, double(g[0]), s1, s2, M, eps);
    }
  } else {
    // BN: statistic c is over x[:, c, :]; per-channel accumulators, samples in memory order.
    auto& acc = scratch(std::size_t(3 * C));
    double *s1 = acc.data(), *s2 = s1 + C, *K = s2 + C;  // (C) each
    for (long c = 0; c < C; ++c) {
      s1[c] = s2[c] = 0;
      K[c] = double(x[c * S]);
    }
    for (long n = 0; n < d.N; ++n) {
      if (S == 1) {
        const T* row = x + n * C;
        // Scalar math, vectorized across channels (each c its own accumulators):
        //   for c in [0, C): t = x[n, c] - K[c]; s1[c] += t; s2[c] += t*t
#pragma omp simd
        for (long c = 0; c < C; ++c) {
          const double t = double(row[c]) - K[c];
          s1[c] += t;
          s2[c] += t * t;
        }
      } else {
        // for c: moments of the span x[n, c, :] into s1[c], s2[c]
        for (long c = 0; c < C; ++c) moments<Vec>(x + (n * C + c) * S, S, K[c], s1[c], s2[c]);
      }
    }
    for (int c = 0; c < C; ++c) finish_stats(mean, rstd, var, c, K[c], s1[c], s2[c], M, eps);
  }
}

template <bool Relu, class T>
NL_INLINE void apply_body(T* y, const T* x, const T* mean, const T* rstd, const T* gamma, const T* beta,
                          const NormDims& d) {
  const long S = d.S, C = d.C;
  if (d.over == NormDims::Over::group) {
    // LN and GN: group i = (n, g) is the span of K = C/G channels from c0 = g*K.
    // The two affine shapes (per element for LN, per channel for GN) take two loops.
    const long K = C / d.groups;
    for (int i = 0; i < d.stat_count(); ++i) {
      const long off = long(i) * d.group_size();
      const long c0 = (i % d.groups) * K;
      const T mu = mean[i], r = rstd[i];
      if (d.elementwise_affine && gamma) {
        const T* g = gamma + c0 * S;  // (K, S)
        const T* b = beta + c0 * S;   // (K, S)
        const T* xs = x + off;        // (K, S)
        T* ys = y + off;              // (K, S)
        // Scalar math, per element j = (c - c0)*S + s of the group's span:
        //   y[j] = (x[j] - mu) * r * gamma[j] + beta[j]
        //        = x[j] * alpha_j + (beta[j] - mu * alpha_j),   alpha_j = r * gamma[j]
#pragma omp simd
        for (long j = 0; j < K * S; ++j) ys[j] = store_value<Relu>(T(xs[j] * (r * g[j]) + (b[j] - mu * r * g[j])));
      } else if (S == 1) {
        // One value per channel (the rnn's GN): the per-channel formula below,
        // vectorized across the group's channels; the same operations per value.
        const T* xs = x + off;  // (K)
        T* ys = y + off;        // (K)
#pragma omp simd
        for (long k = 0; k < K; ++k) {
          const T a = gamma ? gamma[c0 + k] * r : r;
          const T b = (beta ? beta[c0 + k] : T(0)) - mu * a;
          ys[k] = store_value<Relu>(T(xs[k] * a + b));
        }
      } else {
        // for channel c of the group: y[n, c, :] = x[n, c, :] * a + b,
        //   a = gamma[c]*r, b = beta[c] - mu*a
        for (long k = 0; k < K; ++k) {
          const long c = c0 + k;
          const T a = gamma ? gamma[c] * r : r;
          const T b = (beta ? beta[c] : T(0)) - mu * a;
          axpb<Relu>(y + off + k * S, x + off + k * S, S, a, b);
        }
      }
    }
    return;
  }
  // batch: one (alpha, shift) per channel,
  //   al[c] = gamma[c]*rstd[c], sh[c] = beta[c] - mean[c]*al[c]
  auto& acc = scratch(std::size_t(2 * C));
  double *al = acc.data(), *sh = al + C;  // (C) each
  for (long c = 0; c < C; ++c) {
    al[c] = gamma ? double(gamma[c]) * rstd[c] : double(rstd[c]);
    sh[c] = (beta ? double(beta[c]) : 0.0) - double(mean[c]) * al[c];
  }
  for (long n = 0; n < d.N; ++n) {
    if (S == 1) {
      const T* xs = x + n * C;
      T* ys = y + n * C;
      // Scalar math, vectorized across channels:
      //   for c in [0, C): y[n, c] = (x[n, c] - mean[c]) * rstd[c] * gamma[c] + beta[c]
      //                             = x[n, c] * al[c] + sh[c]     (in double, rounded to T)
#pragma omp simd
      for (long c = 0; c < C; ++c) ys[c] = store_value<Relu>(T(xs[c] * al[c] + sh[c]));
    } else {
      // for c: y[n, c, :] = x[n, c, :] * al[c] + sh[c]
      for (long c = 0; c < C; ++c)
        axpb<Relu>(y + (n * C + c) * S, x + (n * C + c) * S, S, T(al[c]), T(sh[c]));
    }
  }
}

template <bool Vec, class T>
NL_INLINE void backward_body(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean,
                             const T* rstd, const T* gamma, const NormDims& d) {
  const long S = d.S, C = d.C;
  const double M = double(d.group_size());
  if (d.over == NormDims::Over::group) {
    const long K = C / d.groups;
    for (int i = 0; i < d.stat_count(); ++i) {
      const long off = long(i) * d.group_size();
      const long c0 = (i % d.groups) * K;
      const double mu = mean[i], r = rstd[i];
      double a1 = 0, a2 = 0;  // sum dxhat, sum dxhat*xhat over the group
      if (d.elementwise_affine && gamma) {
        const T* g = gamma + c0 * S;  // (K, S)
        T* dg = dgamma + c0 * S;      // (K, S)
        T* db = dbeta + c0 * S;       // (K, S)
        const T* xs = x + off;        // (K, S)
        const T* dys = dy + off;      // (K, S)
        const T tmu = T(mu), tr = T(r);
        // Scalar math, per element j of the group's span (gamma per element):
        //   xhat = (x[j] - mu) * r;  dgamma[j] += dy[j]*xhat;  dbeta[j] += dy[j]
        //   dxhat = dy[j] * gamma[j];  a1 += dxhat;  a2 += dxhat*xhat     (a1, a2 in double, in lanes)
        double l1[kSumLanes] = {}, l2[kSumLanes] = {};
        long j0 = 0;
        if constexpr (Vec && std::is_same_v<T, float>)
          j0 = ln_backward_rows(dg, db, dys, xs, g, K * S, tmu, tr, l1, l2);
        over_lanes(j0, K * S, [&](int q, long j) {
          const T xh = (xs[j] - tmu) * tr;
          dg[j] += dys[j] * xh;
          db[j] += dys[j];
          const double dxh = double(dys[j]) * double(g[j]);
          l1[q] += dxh;
          l2[q] += dxh * double(xh);
        });
        a1 = lane_total(l1);
        a2 = lane_total(l2);
        const T kx = T(-r * r * a2 / M), k0 = T(r * (mu * r * a2 - a1) / M);
        T* dxs = dx + off;  // (K, S)
        // Scalar math: dx[j] += r * (dxhat_j - a1/M - xhat_j * a2/M)
        //                     = dy[j] * (gamma[j]*r) + x[j] * kx + k0
#pragma omp simd
        for (long j = 0; j < K * S; ++j) dxs[j] += dys[j] * (g[j] * tr) + xs[j] * kx + k0;
      } else {
        if (S == 1) {
          group_backward_s1(dx + off, dgamma, dbeta, dy + off, x + off, gamma, c0, K, mu, r, M);
          continue;
        }
        // Per channel block k of the group: sdy = sum dy, sdyx = sum dy*x (dot2), then
        //   sum dy*xhat = r * (sdyx - mu*sdy)
        //   a1 += gamma[c]*sdy;  a2 += gamma[c] * sum dy*xhat
        for (long k = 0; k < K; ++k) {
          const long c = c0 + k;
          double sdy = 0, sdyx = 0;
          dot2<Vec>(dy + off + k * S, x + off + k * S, S, sdy, sdyx);
          const double sdyxh = r * (sdyx - mu * sdy);  // sum dy*xhat over the block
          const double g = gamma ? double(gamma[c]) : 1.0;
          if (gamma) {
            dgamma[c] += T(sdyxh);
            dbeta[c] += T(sdy);
          }
          a1 += g * sdy;
          a2 += g * sdyxh;
        }
        const T kx = T(-r * r * a2 / M), k0 = T(r * (mu * r * a2 - a1) / M);
        // dx[n, c, s] += dy * (gamma[c]*r) + x * kx + k0, one dx_pass per channel block
        for (long k = 0; k < K; ++k) {
          const long c = c0 + k;
          const T a = T(gamma ? gamma[c] * r : r);
          dx_pass(dx + off + k * S, dy + off + k * S, x + off + k * S, S, a, kx, k0);
        }
      }
    }
    return;
  }
  // batch: per-channel sums of dy and dy*x over (n, s) in memory order, then one pass.
  auto& acc = scratch(std::size_t(5 * C));
  double *sdy = acc.data(), *sdyx = sdy + C, *A = sdyx + C, *KX = A + C, *K0 = KX + C;  // (C) each
  for (long c = 0; c < C; ++c) sdy[c] = sdyx[c] = 0;
  for (long n = 0; n < d.N; ++n) {
    if (S == 1) {
      const T* dys = dy + n * C;
      const T* xs = x + n * C;
      // Scalar math, vectorized across channels (each c its own accumulators):
      //   for c in [0, C): sdy[c] += dy[n, c]; sdyx[c] += dy[n, c] * x[n, c]
#pragma omp simd
      for (long c = 0; c < C; ++c) {
        sdy[c] += double(dys[c]);
        sdyx[c] += double(dys[c]) * double(xs[c]);
      }
    } else {
      for (long c = 0; c < C; ++c) dot2<Vec>(dy + (n * C + c) * S, x + (n * C + c) * S, S, sdy[c], sdyx[c]);
    }
  }
  // Per channel: sum dy*xhat = r*(sdyx - mu*sdy); a1 = gamma*sdy, a2 = gamma*sum dy*xhat;
  // dx = dy*A + x*KX + K0 with A = gamma*r, KX = -r^2*a2/M, K0 = r*(mu*r*a2 - a1)/M.
  for (long c = 0; c < C; ++c) {
    const double mu = mean[c], r = rstd[c], g = gamma ? double(gamma[c]) : 1.0;
    const double sdyxh = r * (sdyx[c] - mu * sdy[c]);
    if (gamma) {
      dgamma[c] += T(sdyxh);
      dbeta[c] += T(sdy[c]);
    }
    const double a1 = g * sdy[c], a2 = g * sdyxh;
    A[c] = g * r;
    KX[c] = -r * r * a2 / M;
    K0[c] = r * (mu * r * a2 - a1) / M;
  }
  for (long n = 0; n < d.N; ++n) {
    if (S == 1) {
      const T* dys = dy + n * C;
      const T* xs = x + n * C;
      T* dxs = dx + n * C;
      // Scalar math, vectorized across channels:
      //   for c in [0, C): dx[n, c] += dy[n, c]*A[c] + x[n, c]*KX[c] + K0[c]
      //   (in double, rounded to T)
#pragma omp simd
      for (long c = 0; c < C; ++c) dxs[c] += T(dys[c] * A[c] + xs[c] * KX[c] + K0[c]);
    } else {
      for (long c = 0; c < C; ++c) {
        const long off = (n * C + c) * S;
        dx_pass(dx + off, dy + off, x + off, S, T(A[c]), T(KX[c]), T(K0[c]));
      }
    }
  }
}

// ---- the two compilations of each body, and the dispatch ----
// No "fma" in the vector target: GCC contracts a*b + c in C++ by default, and a fused
// operation would round differently from the portable compilation.
NL_VEC void stats_vec(float* mean, float* rstd, float* var, const float* x, const NormDims& d, double eps) {
  stats_body<true>(mean, rstd, var, x, d, eps);
}
template <bool Relu>
NL_VEC void apply_vec(float* y, const float* x, const float* mean, const float* rstd, const float* gamma,
                      const float* beta, const NormDims& d) {
  apply_body<Relu>(y, x, mean, rstd, gamma, beta, d);
}
NL_VEC void backward_vec(float* dx, float* dgamma, float* dbeta, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* gamma, const NormDims& d) {
  backward_body<true>(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, d);
}
}  // namespace

// float takes the vector compilation when isa says so; double is always portable.

template <class T>
void norm_stats(T* mean, T* rstd, T* var, const T* x, const NormDims& d, double eps, ConvIsa isa) {
  if constexpr (std::is_same_v<T, float>)
    if (conv_use_vector(isa)) return stats_vec(mean, rstd, var, x, d, eps);
  stats_body<false>(mean, rstd, var, x, d, eps);
}

template <class T>
void norm_apply(T* y, const T* x, const T* mean, const T* rstd, const T* gamma, const T* beta, const NormDims& d,
                ConvIsa isa, Epilogue epi) {
  const bool relu = epi == Epilogue::relu;
  if constexpr (std::is_same_v<T, float>)
    if (conv_use_vector(isa))
      return relu ? apply_vec<true>(y, x, mean, rstd, gamma, beta, d) : apply_vec<false>(y, x, mean, rstd, gamma, beta, d);
  if (relu) return apply_body<true>(y, x, mean, rstd, gamma, beta, d);
  apply_body<false>(y, x, mean, rstd, gamma, beta, d);
}

template <class T>
void norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* rstd,
                   const T* gamma, const NormDims& d, ConvIsa isa) {
  if constexpr (std::is_same_v<T, float>)
    if (conv_use_vector(isa)) return backward_vec(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, d);
  backward_body<false>(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, d);
}

template <class T>
void norm_backward_fixed_stats(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean,
                               const T* rstd, const T* gamma, const NormDims& d) {
  const int S = d.S, B = d.blocks_per_stat();
  for (int i = 0; i < d.stat_count(); ++i) {
    const T mu = mean[i], r = rstd[i];
    for (int b = 0; b < B; ++b) {
      int n, c;
      d.block(i, b, n, c);
      const long off = (long(n) * d.C + c) * S;
      for (int s = 0; s < S; ++s) {
        const long a = d.elementwise_affine ? long(c) * S + s : c;
        const T g = gamma ? gamma[a] : T(1);
        if (gamma) {
          dgamma[a] += dy[off + s] * (x[off + s] - mu) * r;
          dbeta[a] += dy[off + s];
        }
        dx[off + s] += dy[off + s] * g * r;
      }
    }
  }
}

#define NORMLAB_INSTANTIATE(T)                                                                    \
  template void norm_stats<T>(T*, T*, T*, const T*, const NormDims&, double, ConvIsa);            \
  template void norm_apply<T>(T*, const T*, const T*, const T*, const T*, const T*,               \
                              const NormDims&, ConvIsa, Epilogue);                            \
  template void norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*,    \
                                 const NormDims&, ConvIsa);                                       \
  template void norm_backward_fixed_stats<T>(T*, T*, T*, const T*, const T*, const T*, const T*,  \
                                             const T*, const NormDims&);
NORMLAB_INSTANTIATE(float)
NORMLAB_INSTANTIATE(double)
#undef NORMLAB_INSTANTIATE

}  // namespace normlab
