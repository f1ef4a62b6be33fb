// Thin typed wrapper over CBLAS, row-major. No hand-written product loops.
#include "tensor/gemm.h"

#include <cblas.h>

#include <atomic>
#include <chrono>

namespace normlab {

namespace {
std::atomic<bool> timer_on{false};
std::atomic<long long> timer_ns{0};

// Runs f, adding its wall time to timer_ns when the timer is on.
template <class F>
void timed(F&& f) {
  if (!timer_on.load(std::memory_order_relaxed)) return f();
  const auto t0 = std::chrono::steady_clock::now();
  f();
  timer_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

void gemm_timer_enable(bool on) { timer_on = on; }
void gemm_timer_reset() { timer_ns = 0; }
double gemm_timer_seconds() { return double(timer_ns.load()) * 1e-9; }

template <>
void gemm<float>(bool ta, bool tb, int M, int N, int K, float alpha, const float* A,
                 const float* B, float beta, float* C) {
  timed([&] {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                ta ? M : K, B, tb ? K : N, beta, C, N);
  });
}

template <>
void gemm<double>(bool ta, bool tb, int M, int N, int K, double alpha, const double* A,
                  const double* B, double beta, double* C) {
  timed([&] {
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A,
                ta ? M : K, B, tb ? K : N, beta, C, N);
  });
}

void blas_set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

}  // namespace normlab
