// conv2d_forward / conv2d_backward, and the Conv2D layer. The layer sends
// geometries with channel counts in eights (conv_gather_applies) to the direct
// kernels of conv_gather.h; the rest come here. One-channel stride-1 geometries
// (first layers) go to the direct kernels of conv_direct.h for the output and the
// weight gradient; every other product is im2col + GEMM, one sample at a time:
//   col = im2col(x_n)                  (K, P),  K = C*KH*KW, P = OH*OW
//   y_n = W (OC, K) @ col + b          (OC, P)
//   dW += dy_n @ col^T,  db += sum_p dy_n,  dx_n += col2im(W^T @ dy_n)
// im2col of the whole batch is kept from forward to backward when it fits
// kConvKeepFloats, else recomputed in backward (same values either way).
// im2col / col2im walk the geometry by one of three paths (Im2colPath: rows,
// flat for stride-1 same-width convolutions, gather for strided ones); all copy
// the same values and add in the same order, so the path changes only the time.
// The batch is cut into kConvChunks fixed slices (run on the run's thread pool);
// weight gradients are summed per slice, then across slices in slice order,
// so the result does not depend on how many threads ran the slices.
#include "nn/conv2d.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "core/errors.h"
#include "nn/activation.h"
#include "nn/conv_direct.h"
#include "nn/conv_gather.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace normlab {

namespace {
// The output columns ow whose input column iw = ow*stride - pad + kw lies in
// [0, W): the range [lo, hi). Outside it im2col reads padding (0).
void valid_cols(const ConvGeom& g, int kw, int& lo, int& hi) {
  // need first <= ow*stride <= last
  const int OW = g.OW(), first = g.pad - kw, last = g.W - 1 + g.pad - kw;
  lo = first <= 0 ? 0 : (first + g.stride - 1) / g.stride;
  hi = last < 0 ? 0 : std::min(OW, last / g.stride + 1);
  lo = std::min(lo, hi);
}

// db (R) += row sums of dy (R, P). Plain math: for r: db[r] += sum_p dy[r, p].
// Each row's sum is one `omp simd` reduction (lane partials, fixed for a build);
// four rows go through one loop, each with its own accumulator, so the four
// chains of adds overlap instead of waiting on one another. A row's order of
// additions is the same as in a loop over that row alone.
template <class T>
void row_sums_add(T* db, const T* dy, int R, int P) {
  int r = 0;
  for (; r + 4 <= R; r += 4) {
    const T* d0 = dy + long(r) * P;
    const T *d1 = d0 + P, *d2 = d1 + P, *d3 = d2 + P;
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int p = 0; p < P; ++p) {
      s0 += d0[p];
      s1 += d1[p];
      s2 += d2[p];
      s3 += d3[p];
    }
    db[r] += s0;
    db[r + 1] += s1;
    db[r + 2] += s2;
    db[r + 3] += s3;
  }
  for (; r < R; ++r) {
    T sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int p = 0; p < P; ++p) sum += dy[long(r) * P + p];
    db[r] += sum;
  }
}

}  // namespace

template <class T>
void im2col(T* col, const T* img, const ConvGeom& g) {
  const int OH = g.OH(), OW = g.OW(), st = g.stride;
  for (int c = 0; c < g.C; ++c)
    for (int kh = 0; kh < g.KH; ++kh)
      for (int kw = 0; kw < g.KW; ++kw) {
        int lo, hi;
        valid_cols(g, kw, lo, hi);
        T* row = col + (long(c * g.KH + kh) * g.KW + kw) * OH * OW;
        for (int oh = 0; oh < OH; ++oh) {
          const int ih = oh * st - g.pad + kh;
          T* r = row + long(oh) * OW;
          if (ih < 0 || ih >= g.H) {
            std::fill(r, r + OW, T(0));
            continue;
          }
          // Plain form: r[ow] = 0 <= iw < W ? img[c, ih, iw] : 0, iw = ow*stride - pad + kw;
          // here the padding columns are filled and the valid span copied.
          const T* src = img + (long(c) * g.H + ih) * g.W;
          const int shift = kw - g.pad;  // iw = ow*stride + shift
          for (int ow = 0; ow < lo; ++ow) r[ow] = T(0);
          if (st == 1) {
#pragma omp simd
            for (int ow = lo; ow < hi; ++ow) r[ow] = src[ow + shift];
          } else {
            for (int ow = lo; ow < hi; ++ow) r[ow] = src[ow * st + shift];
          }
          for (int ow = hi; ow < OW; ++ow) r[ow] = T(0);
        }
      }
}

template <class T>
void col2im_add(T* img, const T* col, const ConvGeom& g) {
  const int OH = g.OH(), OW = g.OW(), st = g.stride;
  for (int c = 0; c < g.C; ++c)
    for (int kh = 0; kh < g.KH; ++kh)
      for (int kw = 0; kw < g.KW; ++kw) {
        int lo, hi;
        valid_cols(g, kw, lo, hi);
        const T* row = col + (long(c * g.KH + kh) * g.KW + kw) * OH * OW;
        for (int oh = 0; oh < OH; ++oh) {
          const int ih = oh * st - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          // Plain form: img[c, ih, iw] += r[ow] for each ow with 0 <= iw < W,
          // iw = ow*stride - pad + kw. Within one row each iw is hit once, so the
          // adds into any img element keep their (c, kh, kw, oh) order.
          T* dst = img + (long(c) * g.H + ih) * g.W;
          const T* r = row + long(oh) * OW;
          const int shift = kw - g.pad;  // iw = ow*stride + shift
          if (st == 1) {
#pragma omp simd
            for (int ow = lo; ow < hi; ++ow) dst[ow + shift] += r[ow];
          } else {
            for (int ow = lo; ow < hi; ++ow) dst[ow * st + shift] += r[ow];
          }
        }
      }
}

namespace {
// The output rows oh whose input row ih = oh*stride - pad + kh lies in [0, H): [lo, hi).
void valid_rows(const ConvGeom& g, int kh, int& lo, int& hi) {
  const int first = g.pad - kh, last = g.H - 1 + g.pad - kh;
  lo = first <= 0 ? 0 : (first + g.stride - 1) / g.stride;
  hi = last < 0 ? 0 : std::min(g.OH(), last / g.stride + 1);
  lo = std::min(lo, hi);
}

// Path flat (stride 1, OW == W): for p = oh*OW + ow in the valid rows,
// col[p] = img_c[p + shift], shift = (kh - pad)*W + kw - pad, except at the
// columns outside [lo, hi), which wrapped into a neighbouring image row: 0 there.
template <class T>
void im2col_flat(T* col, const T* img, const ConvGeom& g) {
  const int OW = g.OW(), P = g.P();
  const long plane = long(g.H) * g.W;
  for (int c = 0; c < g.C; ++c)
    for (int kh = 0; kh < g.KH; ++kh) {
      int r0, r1;
      valid_rows(g, kh, r0, r1);
      for (int kw = 0; kw < g.KW; ++kw) {
        T* row = col + (long(c * g.KH + kh) * g.KW + kw) * P;
        const T* src = img + c * plane;
        const long shift = long(kh - g.pad) * g.W + kw - g.pad;
        int lo, hi;
        valid_cols(g, kw, lo, hi);
        std::fill(row, row + long(r0) * OW, T(0));
        std::fill(row + long(r1) * OW, row + P, T(0));
        // reads stay inside plane c; the positions skipped are wrapped columns
        const long a = std::max(long(r0) * OW, -shift), b = std::min(long(r1) * OW, plane - shift);
        if (a < b) std::copy(src + a + shift, src + b + shift, row + a);
        for (int oh = r0; oh < r1; ++oh) {
          T* r = row + long(oh) * OW;
          std::fill(r, r + lo, T(0));
          std::fill(r + hi, r + OW, T(0));
        }
      }
    }
}

// Adjoint of im2col_flat: img_c[p + shift] += col[p] over the valid rows and columns,
// as one loop when no column wraps (lo = 0, hi = OW), else row by row.
template <class T>
void col2im_flat(T* img, const T* col, const ConvGeom& g) {
  const int OW = g.OW(), P = g.P();
  const long plane = long(g.H) * g.W;
  for (int c = 0; c < g.C; ++c)
    for (int kh = 0; kh < g.KH; ++kh) {
      int r0, r1;
      valid_rows(g, kh, r0, r1);
      for (int kw = 0; kw < g.KW; ++kw) {
        const T* row = col + (long(c * g.KH + kh) * g.KW + kw) * P;
        T* dst = img + c * plane + long(kh - g.pad) * g.W + kw - g.pad;  // dst[p] is img_c[p + shift]
        int lo, hi;
        valid_cols(g, kw, lo, hi);
        if (lo == 0 && hi == OW) {
#pragma omp simd
          for (long p = long(r0) * OW; p < long(r1) * OW; ++p) dst[p] += row[p];
          continue;
        }
        for (int oh = r0; oh < r1; ++oh) {
          const long o = long(oh) * OW;
#pragma omp simd
          for (long p = o + lo; p < o + hi; ++p) dst[p] += row[p];
        }
      }
    }
}

// Path gather: col[c, i] = img_c[table[i]] (0 where table[i] = -1), i = (kh, kw, oh, ow).
template <class T>
void im2col_gather(T* col, const T* img, const ConvGeom& g, const int* table) {
  const long n = long(g.KH) * g.KW * g.P(), plane = long(g.H) * g.W;
  for (int c = 0; c < g.C; ++c) {
    const T* src = img + c * plane;
    T* dst = col + c * n;
    for (long i = 0; i < n; ++i) {
      const int j = table[i];
      dst[i] = j >= 0 ? src[j] : T(0);
    }
  }
}

// Adjoint: img_c[table[i]] += col[c, i]; i ascends through (kh, kw, oh, ow), so each
// img element's adds keep the (c, kh, kw, oh) order.
template <class T>
void col2im_gather(T* img, const T* col, const ConvGeom& g, const int* table) {
  const long n = long(g.KH) * g.KW * g.P(), plane = long(g.H) * g.W;
  for (int c = 0; c < g.C; ++c) {
    T* dst = img + c * plane;
    const T* src = col + c * n;
    for (long i = 0; i < n; ++i) {
      const int j = table[i];
      if (j >= 0) dst[j] += src[i];
    }
  }
}
}  // namespace

Im2colPlan im2col_plan(const ConvGeom& g, Im2colPath path) {
  Im2colPlan plan{path, {}};
  if (path == Im2colPath::flat && (g.stride != 1 || g.OW() != g.W))
    throw std::logic_error("im2col_plan: flat needs stride 1 and OW == W");
  if (path != Im2colPath::gather) return plan;
  const int OH = g.OH(), OW = g.OW();
  plan.table.resize(std::size_t(g.KH) * g.KW * OH * OW);
  std::size_t i = 0;
  for (int kh = 0; kh < g.KH; ++kh)
    for (int kw = 0; kw < g.KW; ++kw)
      for (int oh = 0; oh < OH; ++oh)
        for (int ow = 0; ow < OW; ++ow) {
          const int ih = oh * g.stride - g.pad + kh, iw = ow * g.stride - g.pad + kw;
          plan.table[i++] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? ih * g.W + iw : -1;
        }
  return plan;
}

Im2colPlan im2col_plan(const ConvGeom& g) {
  if (g.stride == 1 && g.OW() == g.W) return im2col_plan(g, Im2colPath::flat);
  if (g.stride > 1) return im2col_plan(g, Im2colPath::gather);
  return im2col_plan(g, Im2colPath::rows);
}

template <class T>
void im2col(T* col, const T* img, const ConvGeom& g, const Im2colPlan& plan) {
  switch (plan.path) {
    case Im2colPath::rows: return im2col(col, img, g);
    case Im2colPath::flat: return im2col_flat(col, img, g);
    case Im2colPath::gather: return im2col_gather(col, img, g, plan.table.data());
  }
}

template <class T>
void col2im_add(T* img, const T* col, const ConvGeom& g, const Im2colPlan& plan) {
  switch (plan.path) {
    case Im2colPath::rows: return col2im_add(img, col, g);
    case Im2colPath::flat: return col2im_flat(img, col, g);
    case Im2colPath::gather: return col2im_gather(img, col, g, plan.table.data());
  }
}

namespace {
// NORMLAB_CONV_ISA, parsed in one place: "portable", "best" or unset (best);
// anything else is a problem, refused at start-up (cmd/main.cpp).
struct ConvIsaEnv {
  bool portable = false;
  std::optional<std::string> problem;
};
ConvIsaEnv conv_isa_env() {
  const char* e = std::getenv("NORMLAB_CONV_ISA");
  if (!e || !*e || std::strcmp(e, "best") == 0) return {};
  if (std::strcmp(e, "portable") == 0) return {true, std::nullopt};
  return {false, fmt::format("NORMLAB_CONV_ISA='{}' (allowed: portable, best; unset means best)", e)};
}
}  // namespace

std::optional<std::string> conv_isa_env_problem() { return conv_isa_env().problem; }

bool conv_vector_supported() {
  static const bool ok =
      !conv_isa_env().portable && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

bool conv_use_vector(ConvIsa isa) {
  switch (isa) {
    case ConvIsa::best: return conv_vector_supported();
    case ConvIsa::vector: return true;
    case ConvIsa::portable: return false;
  }
  return false;
}

template <class T>
void conv2d_forward(T* out, T* col, const T* inp, const T* weight, const T* bias, int N,
                    const ConvGeom& g, const Im2colPlan& plan, bool keep_col, Epilogue epi) {
  const int K = g.K(), P = g.P(), OC = g.OC;
  const long in_size = long(g.C) * g.H * g.W;
  if (conv_direct_applies(g)) {
    const std::size_t ws = conv_direct_workspace(g);
    auto direct_chunk = [&](int t) {
      for (int n = t * N / kConvChunks; n < (t + 1) * N / kConvChunks; ++n) {
        conv_direct_forward(out + long(n) * OC * P, col + t * ws, inp + long(n) * in_size, weight, bias, g);
        if (epi == Epilogue::relu) relu_in_place(out + long(n) * OC * P, long(OC) * P);
      }
    };
    parallel_for(kConvChunks, direct_chunk);
    return;
  }
  auto chunk = [&](int t) {
    for (int n = t * N / kConvChunks; n < (t + 1) * N / kConvChunks; ++n) {
      T* col_t = col + (keep_col ? std::size_t(n) : std::size_t(t)) * K * P;  // (K, P)
      const T* x = inp + long(n) * in_size;  // (C, H, W)
      T* y = out + long(n) * OC * P;          // (OC, P)
      if (bias)
        for (int o = 0; o < OC; ++o) std::fill(y + long(o) * P, y + long(o + 1) * P, bias[o]);
      im2col(col_t, x, g, plan);
      gemm<T>(false, false, OC, P, K, T(1), weight, col_t, bias ? T(1) : T(0), y);
      if (epi == Epilogue::relu) relu_in_place(y, long(OC) * P);
    }
  };
  parallel_for(kConvChunks, chunk);
}

template <class T>
void conv2d_backward(T* dinp, T* dweight, T* dbias, T* col, T* dcol, T* parts, const T* dout,
                     const T* inp, const T* weight, int N, const ConvGeom& g, const Im2colPlan& plan,
                     bool kept_col) {
  const int K = g.K(), P = g.P(), OC = g.OC;
  const long in_size = long(g.C) * g.H * g.W;
  const std::size_t kp = std::size_t(K) * P;
  const std::size_t part = std::size_t(OC) * (K + 1);  // dW (OC,K) then db (OC)
  const bool direct = conv_direct_applies(g);  // col is then the direct kernels' workspace
  auto chunk = [&](int t) {
    T* dcol_t = dcol + t * kp;  // (K, P)
    T* dW = parts + t * part;   // (OC, K)
    T* db = dW + long(OC) * K;  // (OC)
    std::fill(dW, dW + part, T(0));
    for (int n = t * N / kConvChunks; n < (t + 1) * N / kConvChunks; ++n) {
      const T* x = inp + long(n) * in_size;   // (C, H, W)
      const T* dy = dout + long(n) * OC * P;  // (OC, P)
      if (direct) {
        conv_direct_weight_grad(dW, col + t * conv_direct_workspace(g), dy, x, g);
      } else {
        T* col_t = col + (kept_col ? std::size_t(n) : std::size_t(t)) * kp;  // (K, P)
        if (!kept_col) im2col(col_t, x, g, plan);
        gemm<T>(false, true, OC, K, P, T(1), dy, col_t, T(1), dW);
      }
      row_sums_add(db, dy, OC, P);
      if (!dinp) continue;
      gemm<T>(true, false, K, P, OC, T(1), weight, dy, T(0), dcol_t);  // workspace: overwritten
      col2im_add(dinp + long(n) * in_size, dcol_t, g, plan);
    }
  };
  parallel_for(kConvChunks, chunk);
  // Fixed-order reduction of the slice partials: the same sums for any thread count.
  for (int t = 0; t < kConvChunks; ++t) {
    const T* pw = parts + t * part;
    for (long i = 0; i < long(OC) * K; ++i) dweight[i] += pw[i];
    if (dbias)
      for (int o = 0; o < OC; ++o) dbias[o] += pw[long(OC) * K + o];
  }
}

template <class T>
Conv2D<T>::Conv2D(Shape in, int out_channels, int kernel, int stride, int pad, bool bias)
    : Layer<T>(in), g_{in.c, in.h, in.w, out_channels, kernel, kernel, stride, pad}, bias_(bias) {
  if (out_channels < 1 || kernel < 1 || stride < 1 || pad < 0 || g_.OH() < 1 || g_.OW() < 1)
    throw ConfigError(fmt::format("conv2d: {} channels, kernel {}, stride {}, padding {} does not fit "
                                  "input {}", out_channels, kernel, stride, pad, in.str()));
  this->out_ = Shape{out_channels, g_.OH(), g_.OW()};
  plan_ = im2col_plan(g_);
  if (conv_gather_applies(g_)) gplan_ = std::make_unique<ConvGatherPlan>(conv_gather_plan(g_));
}

template <class T>
Conv2D<T>::~Conv2D() = default;

template <class T>
std::vector<TensorSpec> Conv2D<T>::params() const {
  std::vector<TensorSpec> p = {{"weight", {g_.OC, g_.C, g_.KH, g_.KW}}};
  if (bias_) p.push_back({"bias", {g_.OC}});
  return p;
}

template <class T>
void Conv2D<T>::reserve(int max_batch) {
  if (gplan_) {
    col_.resize(kConvChunks * gplan_->workspace);
    dcol_.resize(gplan_->packed);
    parts_.resize(kConvChunks * gplan_->parts);
    keep_ = false;
    return;
  }
  const std::size_t kp = std::size_t(g_.K()) * g_.P();
  const bool direct = conv_direct_applies(g_);
  keep_ = !direct && double(max_batch) * double(kp) <= kConvKeepFloats;
  col_.resize(direct ? kConvChunks * conv_direct_workspace(g_)
                     : std::size_t(keep_ ? std::max(max_batch, kConvChunks) : kConvChunks) * kp);
  kept_in_ = nullptr;
  dcol_.resize(kConvChunks * kp);
  parts_.resize(kConvChunks * std::size_t(g_.OC) * (g_.K() + 1));
}

template <class T>
double Conv2D<T>::scratch_numel(int max_batch) const {  // col, dcol and parts, as reserve
  if (gplan_) return double(kConvChunks) * double(gplan_->workspace + gplan_->parts) + double(gplan_->packed);
  const double kp = double(g_.K()) * g_.P();
  const bool direct = conv_direct_applies(g_);
  const bool keep = !direct && double(max_batch) * kp <= kConvKeepFloats;
  const double col = direct ? double(kConvChunks) * double(conv_direct_workspace(g_))
                            : (keep ? std::max(max_batch, kConvChunks) : kConvChunks) * kp;
  return col + kConvChunks * kp + double(kConvChunks) * g_.OC * (g_.K() + 1);
}

template <class T>
void Conv2D<T>::forward(T* out, const T* in, int N, Mode) {
  forward_epi(out, in, N, Epilogue::none);
}

template <class T>
bool Conv2D<T>::forward_relu(T* out, const T* in, int N, Mode) {
  forward_epi(out, in, N, Epilogue::relu);
  return true;
}

template <class T>
void Conv2D<T>::forward_epi(T* out, const T* in, int N, Epilogue epi) {
  const T* W = this->param_;
  const T* b = bias_ ? W + long(g_.OC) * g_.K() : nullptr;
  if (gplan_) {
    conv_gather_forward(out, col_.data(), dcol_.data(), in, W, b, N, g_, *gplan_, ConvIsa::best, epi);
    return;
  }
  conv2d_forward(out, col_.data(), in, W, b, N, g_, plan_, keep_, epi);
  kept_in_ = keep_ ? in : nullptr;
  kept_n_ = N;
}

template <class T>
void Conv2D<T>::backward(T* din, const T* dout, const T* in, const T*, int N) {
  T* dW = this->grad_;
  if (gplan_) {
    conv_gather_backward(din, dW, bias_ ? dW + long(g_.OC) * g_.K() : nullptr, col_.data(), dcol_.data(),
                         parts_.data(), dout, in, this->param_, N, g_, *gplan_);
    return;
  }
  // The kept im2col is used only for the input it was made from (the contract: backward follows its forward).
  const bool kept = keep_ && kept_in_ == in && kept_n_ == N;
  conv2d_backward(din, dW, bias_ ? dW + long(g_.OC) * g_.K() : nullptr, col_.data(), dcol_.data(),
                  parts_.data(), dout, in, this->param_, N, g_, plan_, kept);
}

template void im2col<float>(float*, const float*, const ConvGeom&);
template void im2col<double>(double*, const double*, const ConvGeom&);
template void col2im_add<float>(float*, const float*, const ConvGeom&);
template void col2im_add<double>(double*, const double*, const ConvGeom&);
template void conv2d_forward<float>(float*, float*, const float*, const float*, const float*, int,
                                    const ConvGeom&, const Im2colPlan&, bool, Epilogue);
template void conv2d_forward<double>(double*, double*, const double*, const double*, const double*,
                                     int, const ConvGeom&, const Im2colPlan&, bool, Epilogue);
template void conv2d_backward<float>(float*, float*, float*, float*, float*, float*, const float*,
                                     const float*, const float*, int, const ConvGeom&, const Im2colPlan&, bool);
template void conv2d_backward<double>(double*, double*, double*, double*, double*, double*,
                                      const double*, const double*, const double*, int,
                                      const ConvGeom&, const Im2colPlan&, bool);
template void im2col<float>(float*, const float*, const ConvGeom&, const Im2colPlan&);
template void im2col<double>(double*, const double*, const ConvGeom&, const Im2colPlan&);
template void col2im_add<float>(float*, const float*, const ConvGeom&, const Im2colPlan&);
template void col2im_add<double>(double*, const double*, const ConvGeom&, const Im2colPlan&);
template class Conv2D<float>;
template class Conv2D<double>;

}  // namespace normlab
