// Thin typed wrapper over CBLAS, row-major. No hand-written product loops.
#include "tensor/gemm.h"

#include <cblas.h>

namespace normlab {

template <>
void gemm<float>(bool ta, bool tb, int M, int N, int K, float alpha, const float* A,
                 const float* B, float beta, float* C) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

template <>
void gemm<double>(bool ta, bool tb, int M, int N, int K, double alpha, const double* A,
                  const double* B, double beta, double* C) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
              K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

void blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

}  // namespace normlab
