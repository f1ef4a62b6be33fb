#pragma once
// Row-major matrix product through BLAS (OpenBLAS cblas_sgemm/cblas_dgemm):
//   C(M,N) = alpha * op(A) * op(B) + beta * C
// op(A) is (M,K): A is stored (M,K) if !ta, else (K,M). op(B) is (K,N): B is
// stored (K,N) if !tb, else (N,K). Leading dimensions are the stored row lengths.

#include <chrono>

namespace normlab {

template <class T>
void gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, const T* B, T beta, T* C);

// Wall time spent inside gemm, for the benchmark's "GEMM part" of a step.
// Off unless enabled (then two clock reads per call); safe across threads.
void gemm_timer_enable(bool on);
void gemm_timer_reset();
double gemm_timer_seconds();
bool gemm_timer_on();
void gemm_timer_add_ns(long long ns);

// Runs f, adding its wall time to the GEMM timer when it is on: for kernels
// that do a matrix product's work without gemm (the direct convolution).
template <class F>
void gemm_timed(F&& f) {
  if (!gemm_timer_on()) return f();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  gemm_timer_add_ns(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
}

// Threads BLAS may use for the calling process (OpenBLAS keeps one global pool).
void blas_set_threads(int n);

}  // namespace normlab
