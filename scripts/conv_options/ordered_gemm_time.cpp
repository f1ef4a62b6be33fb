// Not used by normlab: time of the per-sample conv products through OpenBLAS (as conv2d.cpp
// makes them) against ordered_gemm (scripts/conv_options/ordered_gemm.h, a prototype), for cnn-deep's and the resnet's
// layers: forward y = W col, backward-data dcol = W^T dy, weight gradient dW += dy col^T
// (ordered_gemm: dW^T (K, OC) += col (K, P) dy^T (P, OC)), microseconds per sample.
//   g++ -O3 -std=c++20 scripts/conv_options/ordered_gemm_time.cpp scripts/conv_options/ordered_gemm.cpp \
//       -o /tmp/og_time -lopenblas
//   OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 /tmp/og_time
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#include "ordered_gemm.h"
using clk = std::chrono::steady_clock;
double tmed(const std::function<void()>& f, int reps) {
  std::vector<double> t;
  for (int i = 0; i < 3; i++) f();
  for (int i = 0; i < reps; i++) {
    auto a = clk::now();
    f();
    t.push_back(std::chrono::duration<double>(clk::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2] * 1e6;
}
int main() {
  using namespace normlab;
  struct S { const char* name; int OC, K, P; } sh[] = {
      {"cnn-deep conv2 16->32 14x14 s2", 32, 144, 49},  {"cnn-deep conv3 32->64 7x7 s2", 64, 288, 16},
      {"cnn-deep conv1 1->16 28x28 s2", 16, 9, 196},    {"resnet s1 16->16 28x28", 16, 144, 784},
      {"resnet s2 32->32 14x14", 32, 288, 196},         {"resnet s3 64->64 7x7", 64, 576, 49}};
  const int n = 32;
  std::mt19937 r(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::printf("%-34s %8s %8s %8s %8s %8s %8s\n", "layer (us/sample)", "fwd BLAS", "ordered", "data BLAS", "ordered",
              "wgt BLAS", "ordered");
  for (auto s : sh) {
    std::vector<float> W(s.OC * s.K), WT(s.K * s.OC), col((size_t)n * s.K * s.P), y((size_t)n * s.OC * s.P),
        dcol((size_t)s.K * s.P), dW(s.OC * s.K), dWT(s.K * s.OC), dyT((size_t)s.P * s.OC), bias(s.OC);
    for (auto& e : W) e = u(r);
    for (auto& e : col) e = u(r);
    for (auto& e : y) e = u(r);
    auto fwd_blas = [&] {
      for (int j = 0; j < n; j++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.OC, s.P, s.K, 1.f, W.data(), s.K,
                    &col[(size_t)j * s.K * s.P], s.P, 1.f, &y[(size_t)j * s.OC * s.P], s.P);
    };
    auto fwd_ord = [&] {
      for (int j = 0; j < n; j++)
        ordered_gemm(s.OC, s.P, s.K, W.data(), s.K, &col[(size_t)j * s.K * s.P], s.P, &y[(size_t)j * s.OC * s.P],
                     s.P, ChainInit::row, bias.data());
    };
    auto data_blas = [&] {
      for (int j = 0; j < n; j++)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s.K, s.P, s.OC, 1.f, W.data(), s.K,
                    &y[(size_t)j * s.OC * s.P], s.P, 0.f, dcol.data(), s.P);
    };
    auto data_ord = [&] {
      for (int k = 0; k < s.K; k++)
        for (int o = 0; o < s.OC; o++) WT[k * s.OC + o] = W[o * s.K + k];
      for (int j = 0; j < n; j++)
        ordered_gemm(s.K, s.P, s.OC, WT.data(), s.OC, &y[(size_t)j * s.OC * s.P], s.P, dcol.data(), s.P,
                     ChainInit::zero);
    };
    auto wgt_blas = [&] {
      for (int j = 0; j < n; j++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s.OC, s.K, s.P, 1.f, &y[(size_t)j * s.OC * s.P], s.P,
                    &col[(size_t)j * s.K * s.P], s.P, 1.f, dW.data(), s.K);
    };
    auto wgt_ord = [&] {
      for (int j = 0; j < n; j++) {
        const float* dy = &y[(size_t)j * s.OC * s.P];
        for (int p = 0; p < s.P; p++)
          for (int o = 0; o < s.OC; o++) dyT[p * s.OC + o] = dy[o * s.P + p];
        ordered_gemm(s.K, s.OC, s.P, &col[(size_t)j * s.K * s.P], s.P, dyT.data(), s.OC, dWT.data(), s.OC,
                     ChainInit::accumulate);
      }
    };
    const int reps = 30;
    std::printf("%-34s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f\n", s.name, tmed(fwd_blas, reps) / n,
                tmed(fwd_ord, reps) / n, tmed(data_blas, reps) / n, tmed(data_ord, reps) / n, tmed(wgt_blas, reps) / n,
                tmed(wgt_ord, reps) / n);
  }
}
