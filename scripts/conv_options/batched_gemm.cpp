// Not used by normlab: does one OpenBLAS product over a slice of samples (col laid out (K, n*P))
// give the same bytes, and more speed, than the per-sample products conv2d_forward and the
// backward-data pass make? (results/bench/conv_options.md, "One product per slice").
//   g++ -O2 -std=c++20 scripts/conv_options/batched_gemm.cpp -o /tmp/batched_gemm -lopenblas
//   OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 /tmp/batched_gemm
#include <cblas.h>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>
#include <random>
#include <algorithm>
#include <functional>
using clk = std::chrono::steady_clock;
double tmed(const std::function<void()>& f, int reps) {
  std::vector<double> t; for (int i = 0; i < 3; i++) f();
  for (int i = 0; i < reps; i++) { auto a = clk::now(); f(); t.push_back(std::chrono::duration<double>(clk::now() - a).count()); }
  std::sort(t.begin(), t.end()); return t[t.size() / 2] * 1e6;
}
int main() {
  struct S { int OC, K, P, n; } sh[] = {{32,144,49,16},{64,288,16,16},{64,576,49,4},{32,288,196,4},{16,144,784,4},{64,576,49,16}};
  std::mt19937 r(1); std::uniform_real_distribution<float> u(-1,1);
  for (auto s: sh) {
    std::vector<float> W(s.OC*s.K), col((size_t)s.n*s.K*s.P), colb((size_t)s.K*s.n*s.P), y((size_t)s.n*s.OC*s.P), yb((size_t)s.OC*s.n*s.P), y2(y.size());
    for (auto&e:W) e=u(r); for (auto&e:col) e=u(r);
    for (int j=0;j<s.n;j++) for(int k=0;k<s.K;k++) memcpy(&colb[(size_t)k*s.n*s.P + j*s.P], &col[((size_t)j*s.K+k)*s.P], 4*s.P);
    auto per = [&]{ for(int j=0;j<s.n;j++){ for(int o=0;o<s.OC;o++) std::fill(&y[((size_t)j*s.OC+o)*s.P], &y[((size_t)j*s.OC+o+1)*s.P], 0.5f);
      cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,s.OC,s.P,s.K,1.f,W.data(),s.K,&col[(size_t)j*s.K*s.P],s.P,1.f,&y[(size_t)j*s.OC*s.P],s.P);} };
    auto bat = [&]{ std::fill(yb.begin(), yb.end(), 0.5f);
      cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,s.OC,s.n*s.P,s.K,1.f,W.data(),s.K,colb.data(),s.n*s.P,1.f,yb.data(),s.n*s.P);
      for(int o=0;o<s.OC;o++) for(int j=0;j<s.n;j++) memcpy(&y2[((size_t)j*s.OC+o)*s.P], &yb[(size_t)o*s.n*s.P+j*s.P], 4*s.P);};
    // backward data: dcol (K,P) = W^T dy
    std::vector<float> dc((size_t)s.n*s.K*s.P), dcb((size_t)s.K*s.n*s.P), dc2(dc.size());
    auto bper = [&]{ for(int j=0;j<s.n;j++) cblas_sgemm(CblasRowMajor,CblasTrans,CblasNoTrans,s.K,s.P,s.OC,1.f,W.data(),s.K,&y[(size_t)j*s.OC*s.P],s.P,0.f,&dc[(size_t)j*s.K*s.P],s.P);};
    auto bbat = [&]{ cblas_sgemm(CblasRowMajor,CblasTrans,CblasNoTrans,s.K,s.n*s.P,s.OC,1.f,W.data(),s.K,yb.data(),s.n*s.P,0.f,dcb.data(),s.n*s.P);
      for(int k=0;k<s.K;k++) for(int j=0;j<s.n;j++) memcpy(&dc2[((size_t)j*s.K+k)*s.P], &dcb[(size_t)k*s.n*s.P+j*s.P], 4*s.P);};
    double t1=tmed(per,200), t2=tmed(bat,200), t3=tmed(bper,200), t4=tmed(bbat,200);
    bool same = memcmp(y.data(),y2.data(),4*y.size())==0, same2=memcmp(dc.data(),dc2.data(),4*dc.size())==0;
    printf("OC%d K%d P%d n%d: fwd per %.1f us, batched %.1f us (%.2fx) same=%d | bwd-data per %.1f, batched %.1f (%.2fx) same=%d\n", s.OC,s.K,s.P,s.n,t1,t2,t1/t2,same,t3,t4,t3/t4,same2);
  }
}
