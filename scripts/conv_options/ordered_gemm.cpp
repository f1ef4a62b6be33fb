// C (M, N) = init + A (M, K) B (K, N), each output one fma chain over k in order
// (contract in ordered_gemm.h):
//   acc = init(i, j); for k: acc = fma(A[i,k], B[k,j], acc); C[i,j] = acc
// Vector path: column blocks of up to 24 (3 AVX2 vectors; the last vector of a
// row's last block is masked), row blocks of 4; for one column block every row
// block walks the same (K, 24) panel of B, which stays in L1.
#include "ordered_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace normlab {

namespace {
constexpr int kLanes = 8;
constexpr int kVecs = 3;  // vectors per column block
constexpr int kRows = 4;  // rows per row block

template <class T>
T chain_start(ChainInit init, const T* C, const T* row, int i) {
  switch (init) {
    case ChainInit::zero: return T(0);
    case ChainInit::accumulate: return *C;
    case ChainInit::row: return row[i];
  }
  return T(0);
}

// The definition, loop for loop.
template <class T>
void ordered_gemm_portable(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc,
                           ChainInit init, const T* row) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      T* c = C + long(i) * ldc + j;
      T acc = chain_start(init, c, row, i);
      for (int k = 0; k < K; ++k) acc = std::fma(A[long(i) * lda + k], B[long(k) * ldb + j], acc);
      *c = acc;
    }
}

#define NL_AVX2 __attribute__((target("avx2,fma")))

// Lanes 0..n-1 set (n in 0..8).
NL_AVX2 inline __m256i lane_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// MR rows x NV vectors of C from column j0; the last vector holds `last` valid
// columns (1..8), loaded and stored through `mask`.
template <int MR, int NV>
NL_AVX2 inline void micro(int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                          ChainInit init, const float* row, int last, __m256i mask) {
  __m256 acc[MR][NV];
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      float* c = C + long(r) * ldc + v * kLanes;
      const bool part = v == NV - 1 && last < kLanes;
      switch (init) {
        case ChainInit::zero: acc[r][v] = _mm256_setzero_ps(); break;
        case ChainInit::accumulate: acc[r][v] = part ? _mm256_maskload_ps(c, mask) : _mm256_loadu_ps(c); break;
        case ChainInit::row: acc[r][v] = _mm256_set1_ps(row[r]); break;
      }
    }
  const bool part = last < kLanes;
  for (int k = 0; k < K; ++k) {
    const float* b = B + long(k) * ldb;
    __m256 bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v)
      bv[v] = (v == NV - 1 && part) ? _mm256_maskload_ps(b + v * kLanes, mask) : _mm256_loadu_ps(b + v * kLanes);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + long(r) * lda + k);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(a, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      float* c = C + long(r) * ldc + v * kLanes;
      if (v == NV - 1 && part)
        _mm256_maskstore_ps(c, mask, acc[r][v]);
      else
        _mm256_storeu_ps(c, acc[r][v]);
    }
}

template <int MR>
NL_AVX2 inline void micro_cols(int nv, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc,
                               ChainInit init, const float* row, int last, __m256i mask) {
  switch (nv) {
    case 1: return micro<MR, 1>(K, A, lda, B, ldb, C, ldc, init, row, last, mask);
    case 2: return micro<MR, 2>(K, A, lda, B, ldb, C, ldc, init, row, last, mask);
    default: return micro<MR, 3>(K, A, lda, B, ldb, C, ldc, init, row, last, mask);
  }
}

NL_AVX2 void ordered_gemm_vector_f32(int M, int N, int K, const float* A, int lda, const float* B, int ldb,
                                     float* C, int ldc, ChainInit init, const float* row) {
  for (int j0 = 0; j0 < N; j0 += kVecs * kLanes) {
    const int cols = std::min(kVecs * kLanes, N - j0);
    const int nv = (cols + kLanes - 1) / kLanes, last = cols - (nv - 1) * kLanes;
    const __m256i mask = lane_mask(last);
    const float* Bj = B + j0;
    int ldp = ldb;
    if (M > kRows) {  // pack the (K, cols) panel once: the row blocks then stream it from L1
      alignas(32) static thread_local float panel[4096 * kVecs * kLanes];
      if (K <= 4096) {
        for (int k = 0; k < K; ++k)
          for (int v = 0; v < nv; ++v) {
            const float* src = B + long(k) * ldb + j0 + v * kLanes;
            const __m256 x = (v == nv - 1 && last < kLanes) ? _mm256_maskload_ps(src, mask) : _mm256_loadu_ps(src);
            _mm256_store_ps(panel + k * nv * kLanes + v * kLanes, x);
          }
        Bj = panel;
        ldp = nv * kLanes;
      }
    }
    int i = 0;
    for (; i + kRows <= M; i += kRows)
      micro_cols<kRows>(nv, K, A + long(i) * lda, lda, Bj, ldp, C + long(i) * ldc + j0, ldc, init,
                        row ? row + i : nullptr, last, mask);
    for (; i < M; ++i)
      micro_cols<1>(nv, K, A + long(i) * lda, lda, Bj, ldp, C + long(i) * ldc + j0, ldc, init,
                    row ? row + i : nullptr, last, mask);
  }
}

bool use_vector(OrderedIsa isa) {
  switch (isa) {
    case OrderedIsa::best: return ordered_gemm_vector_supported();
    case OrderedIsa::vector: return true;
    case OrderedIsa::portable: return false;
  }
  return false;
}
}  // namespace

bool ordered_gemm_vector_supported() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

template <class T>
void ordered_gemm(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc, ChainInit init,
                  const T* row, OrderedIsa isa) {
  if constexpr (std::is_same_v<T, float>)
    if (use_vector(isa)) return ordered_gemm_vector_f32(M, N, K, A, lda, B, ldb, C, ldc, init, row);
  ordered_gemm_portable(M, N, K, A, lda, B, ldb, C, ldc, init, row);
}

template void ordered_gemm<float>(int, int, int, const float*, int, const float*, int, float*, int, ChainInit,
                                  const float*, OrderedIsa);
template void ordered_gemm<double>(int, int, int, const double*, int, const double*, int, double*, int,
                                   ChainInit, const double*, OrderedIsa);

}  // namespace normlab
