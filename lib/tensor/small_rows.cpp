// Few-row matrix product (contract and summation order in small_rows.h):
//   C[m, n] (+)= sum_k A[m, k] B[k, n], each sum an fma chain over k from 0.
// Columns go in blocks of 32 (four AVX2 vectors of floats: four independent fma
// chains in flight); a last, narrower block runs lane by lane, the same chain.
#include "tensor/small_rows.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "tensor/gemm.h"

namespace normlab {

namespace {
constexpr int kBlock = 32;

template <class T>
[[gnu::always_inline]] inline void product_impl(T* C, const T* A, const T* B, int M, int N, int K, bool accumulate) {
  const int full = N - N % kBlock;
  for (int m = 0; m < M; ++m) {
    const T* a = A + long(m) * K;  // (K)
    T* c = C + long(m) * N;        // (N)
    for (int j0 = 0; j0 < full; j0 += kBlock) {
      T acc[kBlock] = {};
      for (int k = 0; k < K; ++k) {
        const T* b = B + long(k) * N + j0;
        for (int l = 0; l < kBlock; ++l) acc[l] = std::fma(a[k], b[l], acc[l]);
      }
      if (accumulate)
        for (int l = 0; l < kBlock; ++l) c[j0 + l] += acc[l];
      else
        for (int l = 0; l < kBlock; ++l) c[j0 + l] = acc[l];
    }
    const int n = N - full;
    if (n == 0) continue;
    T acc[kBlock] = {};
    for (int k = 0; k < K; ++k) {
      const T* b = B + long(k) * N + full;
      for (int l = 0; l < n; ++l) acc[l] = std::fma(a[k], b[l], acc[l]);
    }
    for (int l = 0; l < n; ++l) c[full + l] = accumulate ? c[full + l] + acc[l] : acc[l];
  }
}

#define NL_AVX2 __attribute__((target("avx2,fma")))

// R rows (1 or 2) by one block of 32 columns: 4R fma chains, in registers.
template <int R>
NL_AVX2 inline void block_f32(float* C, const float* A, const float* B, int N, int K, int j0, bool accumulate) {
  __m256 acc[R][4];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) acc[r][i] = _mm256_setzero_ps();
  for (int k = 0; k < K; ++k) {
    const float* b = B + long(k) * N + j0;
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), b2 = _mm256_loadu_ps(b + 16),
                 b3 = _mm256_loadu_ps(b + 24);
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r) {
      const __m256 a = _mm256_set1_ps(A[long(r) * K + k]);
      acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
      acc[r][2] = _mm256_fmadd_ps(a, b2, acc[r][2]);
      acc[r][3] = _mm256_fmadd_ps(a, b3, acc[r][3]);
    }
  }
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int i = 0; i < 4; ++i) {
      float* c = C + long(r) * N + j0 + 8 * i;
      _mm256_storeu_ps(c, accumulate ? _mm256_add_ps(_mm256_loadu_ps(c), acc[r][i]) : acc[r][i]);
    }
}

// float: whole blocks in intrinsics, two rows at a time; the last, narrower
// block through product_impl's lane loop (the same chain per element).
NL_AVX2 void product_vector_f32(float* C, const float* A, const float* B, int M, int N, int K, bool accumulate) {
  const int full = N - N % kBlock;
  int m = 0;
  for (; m + 2 <= M; m += 2)
    for (int j0 = 0; j0 < full; j0 += kBlock) block_f32<2>(C + long(m) * N, A + long(m) * K, B, N, K, j0, accumulate);
  for (; m < M; ++m)
    for (int j0 = 0; j0 < full; j0 += kBlock) block_f32<1>(C + long(m) * N, A + long(m) * K, B, N, K, j0, accumulate);
  if (full == N) return;
  for (m = 0; m < M; ++m) {  // columns full..N-1: product_impl on the (M, N - full) remainder
    const float* a = A + long(m) * K;
    float* c = C + long(m) * N + full;
    float acc[kBlock] = {};
    for (int k = 0; k < K; ++k)
      for (int l = 0; l < N - full; ++l) acc[l] = std::fma(a[k], B[long(k) * N + full + l], acc[l]);
    for (int l = 0; l < N - full; ++l) c[l] = accumulate ? c[l] + acc[l] : acc[l];
  }
}

template <class T>
NL_AVX2 void product_vector(T* C, const T* A, const T* B, int M, int N, int K, bool accumulate) {
  if constexpr (std::is_same_v<T, float>)
    product_vector_f32(C, A, B, M, N, K, accumulate);
  else
    product_impl(C, A, B, M, N, K, accumulate);
}
template <class T>
void product_portable(T* C, const T* A, const T* B, int M, int N, int K, bool accumulate) {
  product_impl(C, A, B, M, N, K, accumulate);
}
}  // namespace

bool small_rows_vector_supported() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

template <class T>
void small_rows_product(T* C, const T* A, const T* B, int M, int N, int K, bool accumulate, SmallRowsIsa isa) {
  const bool vec = isa == SmallRowsIsa::vector || (isa == SmallRowsIsa::best && small_rows_vector_supported());
  gemm_timed([&] {  // counted with the matrix products
    if (vec)
      product_vector(C, A, B, M, N, K, accumulate);
    else
      product_portable(C, A, B, M, N, K, accumulate);
  });
}

template void small_rows_product<float>(float*, const float*, const float*, int, int, int, bool, SmallRowsIsa);
template void small_rows_product<double>(double*, const double*, const double*, int, int, int, bool, SmallRowsIsa);

}  // namespace normlab
