// Times one convolution layer's forward, backward-data and backward-weights passes three ways,
// 1 thread, median of 30 calls after 3 warm-ups: normlab's im2col + GEMM kernels (conv2d.h),
// oneDNN with plain NCHW tensors, and oneDNN with the layouts it prefers ('any': nChw8c blocks,
// reorders not counted). Evidence for the choice of convolution approach
// (results/bench/conv_options.md). Not part of the build; needs libdnnl-dev and a build tree:
//   g++ -O2 -std=c++20 -I lib scripts/conv_options/conv_time.cpp -o /tmp/conv_time -L build \
//     -lnormlab_nn -lnormlab_tensor -lnormlab_core -ldnnl -lopenblas -lfmt -lspdlog -lpthread
//   OPENBLAS_CORETYPE=Haswell OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /tmp/conv_time
#include <oneapi/dnnl/dnnl.hpp>
#include <chrono>
#include <cstdio>
#include <vector>
#include <random>
#include <algorithm>
#include <functional>
#include "nn/conv2d.h"
using namespace dnnl;
using clk = std::chrono::steady_clock;
double tmin(const std::function<void()>& f, int reps) {
  std::vector<double> t;
  for (int i = 0; i < 3; i++) f();
  for (int i = 0; i < reps; i++) { auto a = clk::now(); f(); t.push_back(std::chrono::duration<double>(clk::now() - a).count()); }
  std::sort(t.begin(), t.end()); return t[t.size() / 2] * 1e3;
}
int main() {
  struct S { const char* name; int N, C, H, OC, stride; } shapes[] = {
      {"cnn-deep c1", 128, 1, 28, 16, 2}, {"cnn-deep c2", 128, 16, 14, 32, 2}, {"cnn-deep c3", 128, 32, 7, 64, 2},
      {"resnet s1", 32, 16, 28, 16, 1},   {"resnet s2", 32, 32, 14, 32, 1},    {"resnet s3", 32, 64, 7, 64, 1}};
  engine eng(engine::kind::cpu, 0); stream st(eng);
  std::mt19937 r(1); std::uniform_real_distribution<float> u(-1, 1);
  printf("%-12s %8s %8s %8s | %8s %8s %8s | %8s %8s %8s | %8s  (ms; normlab | oneDNN nchw | oneDNN any | its 4 reorders)\n", "shape", "fwd", "bwdd", "bwdw", "fwd", "bwdd", "bwdw", "fwd", "bwdd", "bwdw", "reorder");
  for (auto s : shapes) {
    normlab::ConvGeom g{s.C, s.H, s.H, s.OC, 3, 3, s.stride, 1};
    int OH = g.OH(), K = g.K(), P = g.P();
    std::vector<float> x(size_t(s.N) * s.C * s.H * s.H), w(size_t(s.OC) * K), b(s.OC), y(size_t(s.N) * s.OC * P), dy(y.size()), dx(x.size()), dw(w.size()), db(b.size());
    for (auto* v : {&x, &w, &b, &dy}) for (auto& e : *v) e = u(r);
    auto plan = normlab::im2col_plan(g);
    std::vector<float> col(size_t(normlab::kConvChunks) * K * P + 64), dcol(col.size()), parts(size_t(normlab::kConvChunks) * s.OC * (K + 1));
    int reps = 30;
    double nf = tmin([&] { normlab::conv2d_forward(y.data(), col.data(), x.data(), w.data(), b.data(), s.N, g, plan); }, reps);
    double nbw = tmin([&] { normlab::conv2d_backward((float*)nullptr, dw.data(), db.data(), col.data(), dcol.data(), parts.data(), dy.data(), x.data(), w.data(), s.N, g, plan); }, reps);
    double nall = tmin([&] { normlab::conv2d_backward(dx.data(), dw.data(), db.data(), col.data(), dcol.data(), parts.data(), dy.data(), x.data(), w.data(), s.N, g, plan); }, reps);
    double res[2][3], reorders = 0;
    for (int fmt = 0; fmt < 2; fmt++) {
      auto tag = fmt == 0 ? memory::format_tag::nchw : memory::format_tag::any;
      auto wtag = fmt == 0 ? memory::format_tag::oihw : memory::format_tag::any;
      memory::dims xd{s.N, s.C, s.H, s.H}, wd{s.OC, s.C, 3, 3}, bd{s.OC}, yd{s.N, s.OC, OH, OH}, sd{s.stride, s.stride}, pd{1, 1};
      auto xm = memory::desc(xd, memory::data_type::f32, tag), wm = memory::desc(wd, memory::data_type::f32, wtag),
           bm = memory::desc(bd, memory::data_type::f32, memory::format_tag::x), ym = memory::desc(yd, memory::data_type::f32, tag);
      auto fpd = convolution_forward::primitive_desc(convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, xm, wm, bm, ym, sd, pd, pd), eng);
      auto bdpd = convolution_backward_data::primitive_desc(convolution_backward_data::desc(algorithm::convolution_direct, xm, wm, ym, sd, pd, pd), eng, fpd);
      auto bwpd = convolution_backward_weights::primitive_desc(convolution_backward_weights::desc(algorithm::convolution_direct, xm, wm, bm, ym, sd, pd, pd), eng, fpd);
      memory X(fpd.src_desc(), eng), W(fpd.weights_desc(), eng), B(bm, eng), Y(fpd.dst_desc(), eng), DY(fpd.dst_desc(), eng), DX(bdpd.diff_src_desc(), eng), DW(bwpd.diff_weights_desc(), eng), DB(bm, eng);
      auto fill = [&](memory& m) { float* p = (float*)m.get_data_handle(); size_t n = m.get_desc().get_size() / 4; for (size_t i = 0; i < n; i++) p[i] = u(r); };
      fill(X); fill(W); fill(B); fill(DY);
      convolution_forward cf(fpd); convolution_backward_data cbd(bdpd); convolution_backward_weights cbw(bwpd);
      res[fmt][0] = tmin([&] { cf.execute(st, {{DNNL_ARG_SRC, X}, {DNNL_ARG_WEIGHTS, W}, {DNNL_ARG_BIAS, B}, {DNNL_ARG_DST, Y}}); st.wait(); }, reps);
      res[fmt][1] = tmin([&] { cbd.execute(st, {{DNNL_ARG_DIFF_DST, DY}, {DNNL_ARG_WEIGHTS, W}, {DNNL_ARG_DIFF_SRC, DX}}); st.wait(); }, reps);
      res[fmt][2] = tmin([&] { cbw.execute(st, {{DNNL_ARG_SRC, X}, {DNNL_ARG_DIFF_DST, DY}, {DNNL_ARG_DIFF_WEIGHTS, DW}, {DNNL_ARG_DIFF_BIAS, DB}}); st.wait(); }, reps);
      if (fmt == 1) {  // the reorders a layer in NCHW would add around the blocked primitives
        memory px({xd, memory::data_type::f32, memory::format_tag::nchw}, eng), py({yd, memory::data_type::f32, memory::format_tag::nchw}, eng);
        reorder rx(px, X), ry(Y, py), rdy(py, DY), rdx(DX, px);
        reorders = tmin([&] { rx.execute(st, px, X); ry.execute(st, Y, py); rdy.execute(st, py, DY); rdx.execute(st, DX, px); st.wait(); }, reps);
      }
      if (s.N == 128 && s.C == 16 && fmt == 1) printf("  impl any: %s / %s / %s\n", fpd.impl_info_str(), bdpd.impl_info_str(), bwpd.impl_info_str());
      if (s.N == 32 && s.C == 16 && fmt == 0) printf("  impl nchw: %s / %s / %s\n", fpd.impl_info_str(), bdpd.impl_info_str(), bwpd.impl_info_str());
    }
    double gf = 2.0 * s.N * s.OC * K * P / 1e6;  // MFLOP per pass
    printf("%-12s %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f | %8.3f | MFLOP/pass %.1f\n", s.name, nf, nall - nbw, nbw,
           res[0][0], res[0][1], res[0][2], res[1][0], res[1][1], res[1][2], reorders, gf);
  }
}
