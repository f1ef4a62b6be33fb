#pragma once
// Row-major matrix product through BLAS (OpenBLAS cblas_sgemm/cblas_dgemm):
//   C(M,N) = alpha * op(A) * op(B) + beta * C
// op(A) is (M,K): A is stored (M,K) if !ta, else (K,M). op(B) is (K,N): B is
// stored (K,N) if !tb, else (N,K). Leading dimensions are the stored row lengths.

namespace normlab {

template <class T>
void gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, const T* B, T beta, T* C);

// Wall time spent inside gemm, for the benchmark's "GEMM part" of a step.
// Off unless enabled (then two clock reads per call); safe across threads.
void gemm_timer_enable(bool on);
void gemm_timer_reset();
double gemm_timer_seconds();

// Threads BLAS may use for the calling process (OpenBLAS keeps one global pool).
void blas_set_threads(int n);

}  // namespace normlab
