// Checksums (FNV-1a over the float bytes) of oneDNN's convolution outputs in its preferred
// layouts, to compare across instruction-set caps and thread counts (results/bench/conv_options.md).
// Not part of the build; needs libdnnl-dev:
//   g++ -O2 -std=c++20 scripts/conv_options/conv_bytes.cpp -o /tmp/conv_bytes -ldnnl
//   for isa in ALL AVX2 AVX SSE41; do DNNL_MAX_CPU_ISA=$isa OMP_NUM_THREADS=1 /tmp/conv_bytes; done
#include <oneapi/dnnl/dnnl.hpp>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>
using namespace dnnl;
unsigned long long fnv(const void* p, size_t n) { auto* b = (const unsigned char*)p; unsigned long long h = 1469598103934665603ULL; for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL; return h; }
int main() {
  engine eng(engine::kind::cpu, 0); stream st(eng);
  struct S { int N, C, H, OC, stride; } shapes[] = {{32, 16, 28, 16, 1}, {128, 16, 14, 32, 2}, {32, 64, 7, 64, 1}};
  for (auto s : shapes) {
    int OH = (s.H + 2 - 3) / s.stride + 1;
    memory::dims xd{s.N, s.C, s.H, s.H}, wd{s.OC, s.C, 3, 3}, bd{s.OC}, yd{s.N, s.OC, OH, OH}, sd{s.stride, s.stride}, pd{1, 1};
    auto any = memory::format_tag::any;
    auto xm = memory::desc(xd, memory::data_type::f32, any), wm = memory::desc(wd, memory::data_type::f32, any), bm = memory::desc(bd, memory::data_type::f32, memory::format_tag::x), ym = memory::desc(yd, memory::data_type::f32, any);
    auto fpd = convolution_forward::primitive_desc(convolution_forward::desc(prop_kind::forward_training, algorithm::convolution_direct, xm, wm, bm, ym, sd, pd, pd), eng);
    auto bdpd = convolution_backward_data::primitive_desc(convolution_backward_data::desc(algorithm::convolution_direct, xm, wm, ym, sd, pd, pd), eng, fpd);
    auto bwpd = convolution_backward_weights::primitive_desc(convolution_backward_weights::desc(algorithm::convolution_direct, xm, wm, bm, ym, sd, pd, pd), eng, fpd);
    // fill in plain layout, reorder into the primitive's
    std::mt19937 r(1); std::uniform_real_distribution<float> u(-1, 1);
    auto plain = [&](memory::dims d, memory::format_tag t) { memory m({d, memory::data_type::f32, t}, eng); float* p = (float*)m.get_data_handle(); for (size_t i = 0; i < m.get_desc().get_size() / 4; i++) p[i] = u(r); return m; };
    auto px = plain(xd, memory::format_tag::nchw), pw = plain(wd, memory::format_tag::oihw), pb = plain(bd, memory::format_tag::x), pdy = plain(yd, memory::format_tag::nchw);
    memory X(fpd.src_desc(), eng), W(fpd.weights_desc(), eng), Y(fpd.dst_desc(), eng), DY(fpd.dst_desc(), eng), DX(bdpd.diff_src_desc(), eng), DW(bwpd.diff_weights_desc(), eng), DB(bm, eng);
    reorder(px, X).execute(st, px, X); reorder(pw, W).execute(st, pw, W); reorder(pdy, DY).execute(st, pdy, DY);
    convolution_forward(fpd).execute(st, {{DNNL_ARG_SRC, X}, {DNNL_ARG_WEIGHTS, W}, {DNNL_ARG_BIAS, pb}, {DNNL_ARG_DST, Y}});
    convolution_backward_data(bdpd).execute(st, {{DNNL_ARG_DIFF_DST, DY}, {DNNL_ARG_WEIGHTS, W}, {DNNL_ARG_DIFF_SRC, DX}});
    convolution_backward_weights(bwpd).execute(st, {{DNNL_ARG_SRC, X}, {DNNL_ARG_DIFF_DST, DY}, {DNNL_ARG_DIFF_WEIGHTS, DW}, {DNNL_ARG_DIFF_BIAS, DB}});
    st.wait();
    memory oy({yd, memory::data_type::f32, memory::format_tag::nchw}, eng), odx({xd, memory::data_type::f32, memory::format_tag::nchw}, eng), odw({wd, memory::data_type::f32, memory::format_tag::oihw}, eng);
    reorder(Y, oy).execute(st, Y, oy); reorder(DX, odx).execute(st, DX, odx); reorder(DW, odw).execute(st, DW, odw); st.wait();
    printf("N%d C%d H%d OC%d s%d: impl %s/%s/%s fwd %016llx bwdd %016llx bwdw %016llx\n", s.N, s.C, s.H, s.OC, s.stride, fpd.impl_info_str(), bdpd.impl_info_str(), bwpd.impl_info_str(),
           fnv(oy.get_data_handle(), oy.get_desc().get_size()), fnv(odx.get_data_handle(), odx.get_desc().get_size()), fnv(odw.get_data_handle(), odw.get_desc().get_size()));
  }
}
