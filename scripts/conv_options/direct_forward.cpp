// Prototype, not used by normlab: a direct 3x3 stride-1 convolution forward on the flat padded plane
// (output pixel p = oh*WP + ow reads xp[c][p + kh*WP + kw], so every tap is one contiguous run),
// 4 output channels x 24 pixels of accumulators, AVX2 fma in (c, kh, kw) order; timed against
// normlab's im2col + GEMM forward and compared byte for byte (results/bench/conv_options.md).
//   g++ -O3 -mavx2 -mfma -std=c++20 -I lib scripts/conv_options/direct_forward.cpp -o /tmp/direct_forward \
//     -L build -lnormlab_nn -lnormlab_tensor -lnormlab_core -lopenblas -lfmt -lspdlog -lpthread
//   OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 /tmp/direct_forward
#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>
#include <random>
#include <algorithm>
#include <functional>
#include "nn/conv2d.h"
using clk = std::chrono::steady_clock;
double tmed(const std::function<void()>& f, int reps) {
  std::vector<double> t; for (int i = 0; i < 3; i++) f();
  for (int i = 0; i < reps; i++) { auto a = clk::now(); f(); t.push_back(std::chrono::duration<double>(clk::now() - a).count()); }
  std::sort(t.begin(), t.end()); return t[t.size() / 2] * 1e3;
}
// xp: (C, HP*WP + slack) padded planes; out_flat: (OC, OH*WP)
template <int OCB>
static void block(float* outf, const float* xp, const float* w, int C, int plane, int WP, int npix, int oc0, int K) {
  for (int p0 = 0; p0 < npix; p0 += 24) {
    __m256 acc[OCB][3];
    for (int j = 0; j < OCB; j++) for (int v = 0; v < 3; v++) acc[j][v] = _mm256_setzero_ps();
    for (int c = 0; c < C; c++) {
      const float* xc = xp + (long)c * plane + p0;
      const float* wc = w + (long)oc0 * K + c * 9;
      for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++) {
          const float* xr = xc + kh * WP + kw;
          __m256 x0 = _mm256_loadu_ps(xr), x1 = _mm256_loadu_ps(xr + 8), x2 = _mm256_loadu_ps(xr + 16);
#pragma GCC unroll 8
          for (int j = 0; j < OCB; j++) {
            __m256 wv = _mm256_broadcast_ss(wc + (long)j * K + kh * 3 + kw);
            acc[j][0] = _mm256_fmadd_ps(wv, x0, acc[j][0]);
            acc[j][1] = _mm256_fmadd_ps(wv, x1, acc[j][1]);
            acc[j][2] = _mm256_fmadd_ps(wv, x2, acc[j][2]);
          }
        }
    }
    for (int j = 0; j < OCB; j++) for (int v = 0; v < 3; v++) _mm256_storeu_ps(outf + (long)(oc0 + j) * (npix + 24) + p0 + 8 * v, acc[j][v]);
  }
}
void direct_fwd(float* y, std::vector<float>& xp, std::vector<float>& outf, const float* x, const float* w, const float* bias, int N, int C, int H, int OC) {
  const int W = H, WP = W + 2, HP = H + 2, plane = HP * WP + 32, OH = H, OW = W, npix = OH * WP, K = C * 9;
  for (int n = 0; n < N; n++) {
    std::fill(xp.begin(), xp.end(), 0.f);
    for (int c = 0; c < C; c++) for (int ih = 0; ih < H; ih++) memcpy(&xp[(long)c * plane + (ih + 1) * WP + 1], x + ((long)n * C + c) * H * W + ih * W, 4 * W);
    int oc0 = 0;
    for (; oc0 + 4 <= OC; oc0 += 4) block<4>(outf.data(), xp.data(), w, C, plane, WP, npix, oc0, K);
    for (int o = 0; o < OC; o++) for (int oh = 0; oh < OH; oh++) {
      const float* src = &outf[(long)o * (npix + 24) + oh * WP]; float* dst = y + (((long)n * OC + o) * OH + oh) * OW;
      for (int ow = 0; ow < OW; ow++) dst[ow] = src[ow] + bias[o];
    }
  }
}
int main() {
  struct S { const char* name; int N, C, H, OC; } shapes[] = {{"resnet s1", 32, 16, 28, 16}, {"resnet s2", 32, 32, 14, 32}, {"resnet s3", 32, 64, 7, 64}};
  std::mt19937 r(1); std::uniform_real_distribution<float> u(-1, 1);
  for (auto s : shapes) {
    normlab::ConvGeom g{s.C, s.H, s.H, s.OC, 3, 3, 1, 1};
    int K = g.K(), P = g.P();
    std::vector<float> x((size_t)s.N * s.C * s.H * s.H), w((size_t)s.OC * K), b(s.OC), y((size_t)s.N * s.OC * P), y2(y.size());
    for (auto* v : {&x, &w, &b}) for (auto& e : *v) e = u(r);
    auto plan = normlab::im2col_plan(g);
    std::vector<float> col((size_t)normlab::kConvChunks * K * P + 64);
    double tn = tmed([&] { normlab::conv2d_forward(y.data(), col.data(), x.data(), w.data(), b.data(), s.N, g, plan); }, 30);
    int WP = s.H + 2, plane = (s.H + 2) * WP + 32;
    std::vector<float> xp((size_t)s.C * plane), outf((size_t)s.OC * (s.H * WP + 24));
    double td = tmed([&] { direct_fwd(y2.data(), xp, outf, x.data(), w.data(), b.data(), s.N, s.C, s.H, s.OC); }, 30);
    size_t same = 0; double maxd = 0;
    for (size_t i = 0; i < y.size(); i++) { same += y[i] == y2[i]; maxd = std::max(maxd, (double)std::abs(y[i] - y2[i])); }
    printf("%s: normlab %.3f ms, direct %.3f ms (%.2fx); same bytes %zu of %zu, max diff %.3g\n", s.name, tn, td, tn / td, same, y.size(), maxd);
  }
}
