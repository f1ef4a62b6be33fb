// Thin typed wrapper over CBLAS, row-major. No hand-written product loops.
#include "tensor/gemm.h"

#include <cblas.h>

#include <atomic>
#include <chrono>

namespace normlab {

namespace {
std::atomic<bool> timer_on{false};
std::atomic<long long> timer_ns{0};

}  // namespace

bool gemm_timer_on() { return timer_on.load(std::memory_order_relaxed); }
void gemm_timer_add_ns(long long ns) { timer_ns += ns; }

void gemm_timer_enable(bool on) { timer_on = on; }
void gemm_timer_reset() { timer_ns = 0; }
double gemm_timer_seconds() { return double(timer_ns.load()) * 1e-9; }

template <>
void gemm<float>(bool ta, bool tb, int M, int N, int K, float alpha, const float* A,
                 const float* B, float beta, float* C) {
  gemm_timed([&] {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                ta ? M : K, B, tb ? K : N, beta, C, N);
  });
}

template <>
void gemm<double>(bool ta, bool tb, int M, int N, int K, double alpha, const double* A,
                  const double* B, double beta, double* C) {
  gemm_timed([&] {
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                ta ? M : K, B, tb ? K : N, beta, C, N);
  });
}

void blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

}  // namespace normlab
