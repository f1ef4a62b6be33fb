// Wide-input, few-output dense products (contract and summation order in dense_wide.h):
//   forward  y[n, o]  = b[o] + dot8(x[n, :], W[o, :])
//   data     dx[n, k] += sum_o dy[n, o] W[o, k]      (one fma chain over o, from dx)
//   weight   dW[o, k] += sum_n dy[n, o] x[n, k]      (one fma chain over n, from dW)
// The vector path keeps its chains in registers: forward 2 rows x up to 5 outputs of
// 8-lane chains; data 4 rows x 16 columns (2 x 32, 1 x 64 for the last rows); weight up to 5 outputs x 16 columns (one
// cache line of each x row), the rows streamed through it. Forward and data go over
// the columns in blocks, so that W's block stays in cache for every row. The portable path makes
// the same operations one value at a time with std::fma.
#include "nn/dense_wide.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/gemm.h"

namespace normlab {

namespace {
constexpr int kLanes = 8;
constexpr int kGroup = 5;  // outputs per register block (forward and weight)

// ---- portable: one std::fma at a time, in the contract's order ----

// ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7))
float lane_sum(const float* l) { return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); }

void forward_portable(float* y, const float* x, const float* W, const float* bias, int N, int IN, int OUT) {
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < OUT; ++o) {
      const float* a = x + long(n) * IN;  // (IN)
      const float* w = W + long(o) * IN;  // (IN)
      float lane[kLanes] = {};
      for (int k0 = 0; k0 < IN; k0 += kLanes)
        for (int l = 0; l < kLanes; ++l) {
          const int k = k0 + l;
          lane[l] = k < IN ? std::fma(a[k], w[k], lane[l]) : std::fma(0.0f, 0.0f, lane[l]);
        }
      y[long(n) * OUT + o] = (bias ? bias[o] : 0.0f) + lane_sum(lane);
    }
}

void data_portable(float* dx, const float* dy, const float* W, int N, int IN, int OUT, int k_from = 0) {
  for (int n = 0; n < N; ++n)
    for (int k = k_from; k < IN; ++k) {
      float acc = dx[long(n) * IN + k];
      for (int o = 0; o < OUT; ++o) acc = std::fma(dy[long(n) * OUT + o], W[long(o) * IN + k], acc);
      dx[long(n) * IN + k] = acc;
    }
}

void weight_portable(float* dW, const float* dy, const float* x, int N, int IN, int OUT, int k_from = 0) {
  for (int o = 0; o < OUT; ++o)
    for (int k = k_from; k < IN; ++k) {
      float acc = dW[long(o) * IN + k];
      for (int n = 0; n < N; ++n) acc = std::fma(dy[long(n) * OUT + o], x[long(n) * IN + k], acc);
      dW[long(o) * IN + k] = acc;
    }
}

// ---- vector (AVX2 + FMA): the same chains, several in registers ----
#define NL_AVX2 __attribute__((target("avx2,fma")))

NL_AVX2 inline float hsum8(__m256 v) {  // lane_sum's order
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));  // l0+l4 .. l3+l7
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));                                          // (l0+l4)+(l2+l6), (l1+l5)+(l3+l7)
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Rows r < R of y, outputs o0 .. o0+G-1: R x G dot8 chains over columns [k0, k1).
// The chains' lanes come from `lanes` ((R, G, 8), zero when k0 = 0) and go back to
// it, or, at the end of the row (k1 = IN), are summed into y.
template <int R, int G>
NL_AVX2 void forward_block(float* y, float* lanes, const float* x, const float* W, const float* bias, int IN,
                           int OUT, int o0, int k0, int k1) {
  __m256 acc[R][G];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 5
    for (int g = 0; g < G; ++g) acc[r][g] = k0 == 0 ? _mm256_setzero_ps() : _mm256_loadu_ps(lanes + (r * G + g) * kLanes);
  const int full = k1 - (k1 - k0) % kLanes;
  for (int k = k0; k < full; k += kLanes) {
    __m256 xv[R];
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(x + long(r) * IN + k);
#pragma GCC unroll 5
    for (int g = 0; g < G; ++g) {
      const __m256 w = _mm256_loadu_ps(W + long(o0 + g) * IN + k);
#pragma GCC unroll 2
      for (int r = 0; r < R; ++r) acc[r][g] = _mm256_fmadd_ps(xv[r], w, acc[r][g]);
    }
  }
  if (full < k1) {  // the row's last block, zeros past the end (fma(0, 0, acc), as portable)
    alignas(32) int m[kLanes];
    for (int l = 0; l < kLanes; ++l) m[l] = full + l < k1 ? -1 : 0;
    const __m256i mask = _mm256_load_si256(reinterpret_cast<const __m256i*>(m));
    __m256 xv[R];
    for (int r = 0; r < R; ++r) xv[r] = _mm256_maskload_ps(x + long(r) * IN + full, mask);
    for (int g = 0; g < G; ++g) {
      const __m256 w = _mm256_maskload_ps(W + long(o0 + g) * IN + full, mask);
      for (int r = 0; r < R; ++r) acc[r][g] = _mm256_fmadd_ps(xv[r], w, acc[r][g]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int g = 0; g < G; ++g) {
      if (k1 == IN)
        y[long(r) * OUT + o0 + g] = (bias ? bias[o0 + g] : 0.0f) + hsum8(acc[r][g]);
      else
        _mm256_storeu_ps(lanes + (r * G + g) * kLanes, acc[r][g]);
    }
}

// lanes: (R, OUT, 8), this row block's chains between column blocks.
template <int R>
NL_AVX2 void forward_rows(float* y, float* lanes, const float* x, const float* W, const float* bias, int IN,
                          int OUT, int k0, int k1) {
  for (int o0 = 0; o0 < OUT; o0 += kGroup) {
    float* l = lanes + long(R) * o0 * kLanes;
    switch (std::min(kGroup, OUT - o0)) {
      case 1: forward_block<R, 1>(y, l, x, W, bias, IN, OUT, o0, k0, k1); break;
      case 2: forward_block<R, 2>(y, l, x, W, bias, IN, OUT, o0, k0, k1); break;
      case 3: forward_block<R, 3>(y, l, x, W, bias, IN, OUT, o0, k0, k1); break;
      case 4: forward_block<R, 4>(y, l, x, W, bias, IN, OUT, o0, k0, k1); break;
      default: forward_block<R, 5>(y, l, x, W, bias, IN, OUT, o0, k0, k1); break;
    }
  }
}

// Columns in blocks of kColumnBlock, so that W's block (OUT rows of it) stays in cache
// while every row of x passes it; the chains wait in `lanes` between blocks, so the
// order of every chain is the unblocked one.
constexpr int kColumnBlock = 2048;

float* lane_scratch(std::size_t n) {  // grows once, then reused: no allocation in steady state
  thread_local std::vector<float> v;
  if (v.size() < n) v.resize(n);
  return v.data();
}

NL_AVX2 void forward_vector(float* y, const float* x, const float* W, const float* bias, int N, int IN, int OUT) {
  float* lanes = lane_scratch(std::size_t(N) * OUT * kLanes);  // (N, OUT, 8)
  for (int k0 = 0; k0 < IN; k0 += kColumnBlock) {
    const int k1 = std::min(IN, k0 + kColumnBlock);
    int n = 0;
    for (; n + 2 <= N; n += 2)
      forward_rows<2>(y + long(n) * OUT, lanes + long(n) * OUT * kLanes, x + long(n) * IN, W, bias, IN, OUT, k0, k1);
    for (; n < N; ++n)
      forward_rows<1>(y + long(n) * OUT, lanes + long(n) * OUT * kLanes, x + long(n) * IN, W, bias, IN, OUT, k0, k1);
  }
}

// Rows r < R of dx, V 8-column blocks from k: R x V chains over o (8 in flight
// whatever R, so that the fma latency is hidden).
template <int R, int V>
NL_AVX2 inline void data_block(float* dx, const float* dy, const float* W, int IN, int OUT, int k) {
  __m256 acc[R][V];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_loadu_ps(dx + long(r) * IN + k + v * kLanes);
  for (int o = 0; o < OUT; ++o) {
    __m256 w[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) w[v] = _mm256_loadu_ps(W + long(o) * IN + k + v * kLanes);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const __m256 d = _mm256_broadcast_ss(dy + long(r) * OUT + o);
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(d, w[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(dx + long(r) * IN + k + v * kLanes, acc[r][v]);
}

// Rows r < R of dx, columns [k0, k1) (whole 8-column blocks).
template <int R>
NL_AVX2 void data_rows(float* dx, const float* dy, const float* W, int IN, int OUT, int k0, int k1) {
  constexpr int V = 8 / R;
  int k = k0;
  for (; k + V * kLanes <= k1; k += V * kLanes) data_block<R, V>(dx, dy, W, IN, OUT, k);
  for (; k < k1; k += kLanes) data_block<R, 1>(dx, dy, W, IN, OUT, k);
}

NL_AVX2 void data_vector(float* dx, const float* dy, const float* W, int N, int IN, int OUT) {
  const int full = IN - IN % kLanes;
  for (int k0 = 0; k0 < full; k0 += kColumnBlock) {  // W's block stays in cache for every row
    const int k1 = std::min(full, k0 + kColumnBlock);
    int n = 0;
    for (; n + 4 <= N; n += 4) data_rows<4>(dx + long(n) * IN, dy + long(n) * OUT, W, IN, OUT, k0, k1);
    for (; n + 2 <= N; n += 2) data_rows<2>(dx + long(n) * IN, dy + long(n) * OUT, W, IN, OUT, k0, k1);
    for (; n < N; ++n) data_rows<1>(dx + long(n) * IN, dy + long(n) * OUT, W, IN, OUT, k0, k1);
  }
  data_portable(dx, dy, W, N, IN, OUT, full);  // the last IN % 8 columns
}

// Outputs o0 .. o0+G-1 of dW, columns k .. k+8V-1: G x V chains over the rows.
template <int G, int V>
NL_AVX2 void weight_block(float* dW, const float* dy, const float* x, int N, int IN, int OUT, int o0, int k) {
  __m256 acc[G][V];
#pragma GCC unroll 5
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) acc[g][v] = _mm256_loadu_ps(dW + long(o0 + g) * IN + k + v * kLanes);
  for (int n = 0; n < N; ++n) {
    const float* xr = x + long(n) * IN + k;
    _mm_prefetch(reinterpret_cast<const char*>(xr + 4 * 16), _MM_HINT_T0);  // this row's line 4 blocks on
    __m256 xv[V];
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) xv[v] = _mm256_loadu_ps(xr + v * kLanes);
#pragma GCC unroll 5
    for (int g = 0; g < G; ++g) {
      const __m256 d = _mm256_broadcast_ss(dy + long(n) * OUT + o0 + g);
#pragma GCC unroll 2
      for (int v = 0; v < V; ++v) acc[g][v] = _mm256_fmadd_ps(d, xv[v], acc[g][v]);
    }
  }
#pragma GCC unroll 5
  for (int g = 0; g < G; ++g)
#pragma GCC unroll 2
    for (int v = 0; v < V; ++v) _mm256_storeu_ps(dW + long(o0 + g) * IN + k + v * kLanes, acc[g][v]);
}

template <int V>
NL_AVX2 void weight_columns(float* dW, const float* dy, const float* x, int N, int IN, int OUT, int k) {
  for (int o0 = 0; o0 < OUT; o0 += kGroup) {
    switch (std::min(kGroup, OUT - o0)) {
      case 1: weight_block<1, V>(dW, dy, x, N, IN, OUT, o0, k); break;
      case 2: weight_block<2, V>(dW, dy, x, N, IN, OUT, o0, k); break;
      case 3: weight_block<3, V>(dW, dy, x, N, IN, OUT, o0, k); break;
      case 4: weight_block<4, V>(dW, dy, x, N, IN, OUT, o0, k); break;
      default: weight_block<5, V>(dW, dy, x, N, IN, OUT, o0, k); break;
    }
  }
}

NL_AVX2 void weight_vector(float* dW, const float* dy, const float* x, int N, int IN, int OUT) {
  int k = 0;
  for (; k + 2 * kLanes <= IN; k += 2 * kLanes) weight_columns<2>(dW, dy, x, N, IN, OUT, k);
  for (; k + kLanes <= IN; k += kLanes) weight_columns<1>(dW, dy, x, N, IN, OUT, k);
  weight_portable(dW, dy, x, N, IN, OUT, k);  // the last IN % 8 columns
}

}  // namespace

void dense_wide_forward(float* y, const float* x, const float* W, const float* bias, int N, int IN, int OUT,
                        ConvIsa isa) {
  gemm_timed([&] {
    if (conv_use_vector(isa))
      forward_vector(y, x, W, bias, N, IN, OUT);
    else
      forward_portable(y, x, W, bias, N, IN, OUT);
  });
}

void dense_wide_data(float* dx, const float* dy, const float* W, int N, int IN, int OUT, ConvIsa isa) {
  gemm_timed([&] {
    if (conv_use_vector(isa))
      data_vector(dx, dy, W, N, IN, OUT);
    else
      data_portable(dx, dy, W, N, IN, OUT);
  });
}

void dense_wide_weight(float* dW, const float* dy, const float* x, int N, int IN, int OUT, ConvIsa isa) {
  gemm_timed([&] {
    if (conv_use_vector(isa))
      weight_vector(dW, dy, x, N, IN, OUT);
    else
      weight_portable(dW, dy, x, N, IN, OUT);
  });
}

}  // namespace normlab
