// Convolution by broadcast-gather sums (contract and summation order in conv_gather.h):
//   forward        y[o, p]   = sum_{c,kh,kw} W[o,c,kh,kw] xp[c, oh*s + kh, ow*s + kw]  (+ bias[o])
//   backward-data  dx[c, q] += sum_{o,kh,kw: (ih+pad-kh) % s == 0, (iw+pad-kw) % s == 0}
//                                W[o,c,kh,kw] dyp[o, (ih+pad-kh)/s + PT, (iw+pad-kw)/s + PL]
//   weight grad    dW[o,c,kh,kw] += sum_{n,p} xp_n[c, oh*s + kh, ow*s + kw] dy_n[o, p]
//   bias grad      db[o] += sum_{n,p} dy_n[o, p]
// xp is x with `pad` zeros on every side; dyp is dy with zeros around it, enough
// that every tap of a phase reads inside it. The vector path keeps a block of
// pixels x 8-channel vectors of chains in registers (6 x 2 or 12 x 1, narrower at a
// run's end), a weight vector loaded and an input value broadcast per term; the
// weight gradient's term list is padded to whole blocks with a harmless offset
// whose sums are not used.
#include "nn/conv_gather.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "nn/activation.h"
#include "nn/conv_direct.h"
#include "tensor/gemm.h"
#include "tensor/parallel.h"

namespace normlab {

namespace {
constexpr int kLanes = 8;
constexpr int kBlock = 12;  // the weight gradient's terms are padded to a multiple of this (6 x 2 and 12 x 1 blocks)

int round_up(int n, int m) { return (n + m - 1) / m * m; }

// ---- the two sums, portable: one std::fma chain per value, in term (or pixel) order ----

// Packed weights (R rows of M channels) are stored in channel blocks: the block of
// channels [v0, v0 + bw), v0 a multiple of 16 and bw = min(16, M - v0), holds its R rows
// of bw values contiguously from v0 * R. Element (r, v):
inline long packed_index(int r, int v, int R, int M) {
  const int v0 = v / 16 * 16, bw = std::min(16, M - v0);
  return long(v0) * R + long(r) * bw + (v - v0);
}

// W (R rows of M, packed as above) from value(r, v), block by block.
template <class T, class F>
void pack_rows(T* W, int R, int M, F value) {
  for (int v0 = 0; v0 < M; v0 += 16) {
    const int bw = std::min(16, M - v0);
    T* blk = W + long(v0) * R;
    for (int r = 0; r < R; ++r)
      for (int j = 0; j < bw; ++j) blk[long(r) * bw + j] = value(r, v0 + j);
  }
}

// out (npix, M) = sum_t W[row[t]][v] * in[base[i] + delta[t]], W packed (R rows)
template <class T>
void gather_portable(T* out, const T* in, const int* base, int npix, const int* delta, const int* row, int terms,
                     const T* W, int R, int M) {
  for (int i = 0; i < npix; ++i)
    for (int v = 0; v < M; ++v) {
      T acc = 0;
      for (int t = 0; t < terms; ++t) acc = std::fma(W[packed_index(row[t], v, R, M)], in[base[i] + delta[t]], acc);
      out[long(i) * M + v] = acc;
    }
}

// dWt (terms, M) = (first ? 0 : dWt) + sum_p in[base[p] + delta[t]] * dyT[p][v]
template <class T>
void reduce_portable(T* dWt, const T* in, const int* base, int P, const int* delta, int terms, const T* dyT, int M,
                     bool first) {
  for (int t = 0; t < terms; ++t)
    for (int v = 0; v < M; ++v) {
      T acc = first ? T(0) : dWt[long(t) * M + v];
      for (int p = 0; p < P; ++p) acc = std::fma(in[base[p] + delta[t]], dyT[long(p) * M + v], acc);
      dWt[long(t) * M + v] = acc;
    }
}

// ---- the vector path (float, AVX2 + FMA): the same chains, PB x VB of them in registers ----
#define NL_AVX2 __attribute__((target("avx2,fma")))

template <int PB, int VB>
NL_AVX2 inline void gather_block(float* out, int M, const float* in, const int* base, const int* delta,
                                 const int* row, int terms, const float* W) {  // W: a block of rows of VB*8
  __m256 acc[PB][VB];
#pragma GCC unroll 12
  for (int i = 0; i < PB; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < VB; ++j) acc[i][j] = _mm256_setzero_ps();
  const float* b[PB];
#pragma GCC unroll 12
  for (int i = 0; i < PB; ++i) b[i] = in + base[i];
  for (int t = 0; t < terms; ++t) {
    const float* wr = W + long(row[t]) * (VB * kLanes);
    __m256 w[VB];
#pragma GCC unroll 2
    for (int j = 0; j < VB; ++j) w[j] = _mm256_loadu_ps(wr + j * kLanes);
    const int d = delta[t];
#pragma GCC unroll 12
    for (int i = 0; i < PB; ++i) {
      const __m256 x = _mm256_broadcast_ss(b[i] + d);
#pragma GCC unroll 2
      for (int j = 0; j < VB; ++j) acc[i][j] = _mm256_fmadd_ps(w[j], x, acc[i][j]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < PB; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < VB; ++j) _mm256_storeu_ps(out + long(i) * M + j * kLanes, acc[i][j]);
}

// A run of npix pixels in blocks of PB, the last block narrower (PB a compile-time
// count in every block, so the chains stay in registers).
template <int PB, int VB>
NL_AVX2 inline void gather_run(float* out, int M, const float* in, const int* base, int npix, const int* delta,
                               const int* row, int terms, const float* W) {
  int i = 0;
  for (; i + PB <= npix; i += PB) gather_block<PB, VB>(out + long(i) * M, M, in, base + i, delta, row, terms, W);
  const int r = npix - i;
  if (r == 0) return;
  if constexpr (PB > 6) {
    if (r >= 6) {
      gather_block<6, VB>(out + long(i) * M, M, in, base + i, delta, row, terms, W);
      return gather_run<6, VB>(out + long(i + 6) * M, M, in, base + i + 6, r - 6, delta, row, terms, W);
    }
  }
  float* o = out + long(i) * M;
  const int* b = base + i;
  switch (r) {
    case 5: return gather_block<5, VB>(o, M, in, b, delta, row, terms, W);
    case 4: return gather_block<4, VB>(o, M, in, b, delta, row, terms, W);
    case 3: return gather_block<3, VB>(o, M, in, b, delta, row, terms, W);
    case 2: return gather_block<2, VB>(o, M, in, b, delta, row, terms, W);
    default: return gather_block<1, VB>(o, M, in, b, delta, row, terms, W);
  }
}

// M a multiple of 8; W packed (R rows).
NL_AVX2 void gather_vector(float* out, const float* in, const int* base, int npix, const int* delta, const int* row,
                           int terms, const float* W, int R, int M) {
  int v0 = 0;
  for (; v0 + 16 <= M; v0 += 16) gather_run<6, 2>(out + v0, M, in, base, npix, delta, row, terms, W + long(v0) * R);
  if (v0 < M) gather_run<12, 1>(out + v0, M, in, base, npix, delta, row, terms, W + long(v0) * R);
}

template <int TB, int VB>
NL_AVX2 inline void reduce_block(float* dWt, int M, const float* in, const int* base, int P, const int* delta,
                                 const float* dyT, bool first) {
  __m256 acc[TB][VB];
#pragma GCC unroll 12
  for (int i = 0; i < TB; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < VB; ++j) acc[i][j] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(dWt + long(i) * M + j * kLanes);
  int d[TB];
#pragma GCC unroll 12
  for (int i = 0; i < TB; ++i) d[i] = delta[i];
  for (int p = 0; p < P; ++p) {
    __m256 g[VB];
#pragma GCC unroll 2
    for (int j = 0; j < VB; ++j) g[j] = _mm256_loadu_ps(dyT + long(p) * M + j * kLanes);
    const float* bp = in + base[p];
#pragma GCC unroll 12
    for (int i = 0; i < TB; ++i) {
      const __m256 x = _mm256_broadcast_ss(bp + d[i]);
#pragma GCC unroll 2
      for (int j = 0; j < VB; ++j) acc[i][j] = _mm256_fmadd_ps(x, g[j], acc[i][j]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < TB; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < VB; ++j) _mm256_storeu_ps(dWt + long(i) * M + j * kLanes, acc[i][j]);
}

// terms a multiple of kBlock; M a multiple of 8.
NL_AVX2 void reduce_vector(float* dWt, const float* in, const int* base, int P, const int* delta, int terms,
                           const float* dyT, int M, bool first) {
  int v0 = 0;
  for (; v0 + 16 <= M; v0 += 16)
    for (int t = 0; t < terms; t += 6) reduce_block<6, 2>(dWt + long(t) * M + v0, M, in, base, P, delta + t, dyT + v0, first);
  if (v0 < M)
    for (int t = 0; t < terms; t += 12)
      reduce_block<12, 1>(dWt + long(t) * M + v0, M, in, base, P, delta + t, dyT + v0, first);
}

// The dispatch: float with M % 8 == 0 may take the vector path; anything else is portable.
template <class T>
void gather(T* out, const T* in, const int* base, int npix, const int* delta, const int* row, int terms, const T* W,
            int R, int M, bool vec) {
  if constexpr (std::is_same_v<T, float>)
    if (vec && M % kLanes == 0) return gather_vector(out, in, base, npix, delta, row, terms, W, R, M);
  gather_portable(out, in, base, npix, delta, row, terms, W, R, M);
}
template <class T>
void reduce(T* dWt, const T* in, const int* base, int P, const int* delta, int terms, const T* dyT, int M, bool first,
            bool vec) {
  if constexpr (std::is_same_v<T, float>)
    if (vec && M % kLanes == 0) return reduce_vector(dWt, in, base, P, delta, terms, dyT, M, first);
  reduce_portable(dWt, in, base, P, delta, terms, dyT, M, first);
}

// ---- per-sample layouts ----

// Short rows (7 to 28 values) are copied by plain loops: a library call per row
// (what the compiler would make of them) cost more than the copy.
#define NL_PLAIN_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))

// dst (rows, RW) = src (h, w) at offset (top, left). The padding around it is
// zeroed once per call of the kernels (zero_padding), not per sample: the copies
// never write it.
template <class T>
NL_PLAIN_LOOPS void copy_plane(T* __restrict dst, const T* __restrict src, int h, int w, int RW, int top, int left) {
  for (int r = 0; r < h; ++r) {
    T* d = dst + long(top + r) * RW + left;
    const T* x = src + long(r) * w;
    for (int i = 0; i < w; ++i) d[i] = x[i];
  }
}

// xp (C, HP, WP) = x (C, H, W) with `pad` zeros around (the zeros already there).
template <class T>
void pad_input(T* xp, const T* x, const ConvGeom& g, const ConvGatherPlan& pl) {
  for (int c = 0; c < g.C; ++c)
    copy_plane(xp + long(c) * pl.HP * pl.WP, x + long(c) * g.H * g.W, g.H, g.W, pl.WP, g.pad, g.pad);
}

// dyp (OC, RH, RW) = dy (OC, OH, OW) at offset (PT, PL) (the zeros already there).
template <class T>
void pad_grad(T* dyp, const T* dy, const ConvGeom& g, const ConvGatherPlan& pl) {
  const int OH = g.OH(), OW = g.OW();
  for (int o = 0; o < g.OC; ++o)
    copy_plane(dyp + long(o) * pl.RH * pl.RW, dy + long(o) * OH * OW, OH, OW, pl.RW, pl.PT, pl.PL);
}

// db (OC) += the sums over p of dyT (P, OC), each a chain in p order (vectorized across o).
template <class T>
void bias_sums(T* __restrict db, const T* __restrict dyT, int P, int OC) {
  for (int p = 0; p < P; ++p)
    for (int o = 0; o < OC; ++o) db[o] += dyT[long(p) * OC + o];
}

// ---- transposes between the kernels' (pixels, channels) and the layer's (channels, pixels) ----
// dst (cols, rows) from src (rows, cols), by one of three ops, elementwise:
//   copy        dst[c, r]  = src[r, c]
//   add_bias    dst[c, r]  = src[r, c] + bias[c]
//   accumulate  dst[c, r] += src[r, c]
// Each dst element is one copy or one add, so the vector path (8 x 8 blocks in
// registers) gives the same bytes as the portable loop.
enum class TransposeOp { copy, add_bias, accumulate };

template <TransposeOp op, class T>
inline T transposed_value(T d, T s, const T* bias, int c) {
  switch (op) {
    case TransposeOp::copy: return s;
    case TransposeOp::add_bias: return s + bias[c];
    case TransposeOp::accumulate: return d + s;
  }
  return s;
}

template <TransposeOp op, class T>
void transpose_portable(T* dst, const T* src, int rows, int cols, const T* bias, int r0 = 0, int c0 = 0) {
  for (int r = r0; r < rows; ++r)
    for (int c = c0; c < cols; ++c) {
      T& d = dst[long(c) * rows + r];
      d = transposed_value<op>(d, src[long(r) * cols + c], bias, c);
    }
}

// The 8 x 8 block at v in place: v[i][j] becomes v[j][i].
NL_AVX2 inline void transpose8(__m256 v[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  v[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  v[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  v[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  v[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  v[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  v[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  v[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  v[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// The whole 8 x 8 blocks in registers; the ragged right and bottom edges by the portable loop.
template <TransposeOp op>
NL_AVX2 void transpose_vector(float* dst, const float* src, int rows, int cols, const float* bias) {
  const int R8 = rows / 8 * 8, C8 = cols / 8 * 8;
  for (int r = 0; r < R8; r += 8)
    for (int c = 0; c < C8; c += 8) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(src + long(r + i) * cols + c);
      transpose8(v);
      for (int j = 0; j < 8; ++j) {
        float* d = dst + long(c + j) * rows + r;
        __m256 x = v[j];
        if constexpr (op == TransposeOp::add_bias) x = _mm256_add_ps(x, _mm256_set1_ps(bias[c + j]));
        if constexpr (op == TransposeOp::accumulate) x = _mm256_add_ps(_mm256_loadu_ps(d), x);
        _mm256_storeu_ps(d, x);
      }
    }
  if (C8 < cols)
    for (int r = 0; r < R8; ++r)
      for (int c = C8; c < cols; ++c) {
        float& d = dst[long(c) * rows + r];
        d = transposed_value<op>(d, src[long(r) * cols + c], bias, c);
      }
  transpose_portable<op>(dst, src, rows, cols, bias, R8, 0);
}

// The dispatch: float may take the vector path; double is portable.
template <TransposeOp op, class T>
void transpose(T* dst, const T* src, int rows, int cols, bool vec, const T* bias = nullptr) {
  if constexpr (std::is_same_v<T, float>)
    if (vec) return transpose_vector<op>(dst, src, rows, cols, bias);
  transpose_portable<op>(dst, src, rows, cols, bias);
}

// The slice workspace, offsets in floats: xp (C, HP, WP), dyp (OC, RH, RW), dyT (P, OC),
// tmp (pixels, channels) for one product's output, dxT (H*W, C) the input gradient
// gathered back from its stride phases; end is the size.
struct Slice {
  std::size_t xp, dyp, dyT, tmp, dxT, end;
};
Slice slice_layout(const ConvGeom& g, const ConvGatherPlan& pl) {
  std::size_t tmp = pl.fwd_base.size() * std::size_t(g.OC);
  for (const auto& ph : pl.phases) tmp = std::max(tmp, ph.base.size() * std::size_t(g.C));
  Slice s{};
  s.xp = 0;
  s.dyp = s.xp + std::size_t(g.C) * pl.HP * pl.WP;
  s.dyT = s.dyp + std::size_t(g.OC) * pl.RH * pl.RW;
  s.tmp = s.dyT + std::size_t(g.P()) * g.OC;
  s.dxT = s.tmp + tmp;
  s.end = s.dxT + std::size_t(g.H) * g.W * g.C;
  return s;
}

void add_phases(ConvGatherPlan& pl, const ConvGeom& g) {
  const int s = g.stride, KK = g.KH * g.KW;
  for (int fh = 0; fh < s; ++fh)
    for (int fw = 0; fw < s; ++fw) {
      ConvGatherPlan::Phase ph;
      for (int ih = 0; ih < g.H; ++ih)
        for (int iw = 0; iw < g.W; ++iw) {
          if ((ih + g.pad) % s != fh || (iw + g.pad) % s != fw) continue;
          ph.pixels.push_back(ih * g.W + iw);
          ph.base.push_back(((ih + g.pad - fh) / s + pl.PT) * pl.RW + (iw + g.pad - fw) / s + pl.PL);
        }
      if (ph.pixels.empty() || fh >= g.KH || fw >= g.KW) continue;  // no pixel, or no tap reaches them
      for (int o = 0; o < g.OC; ++o)
        for (int kh = fh; kh < g.KH; kh += s)
          for (int kw = fw; kw < g.KW; kw += s) {
            ph.delta.push_back(o * pl.RH * pl.RW - (kh - fh) / s * pl.RW - (kw - fw) / s);
            ph.row.push_back(o * KK + kh * g.KW + kw);
          }
      pl.phases.push_back(std::move(ph));
    }
}
}  // namespace

bool conv_gather_applies(const ConvGeom& g) {
  return g.OC % kLanes == 0 && (g.C % kLanes == 0 || (g.C == 1 && g.stride > 1)) && !conv_direct_applies(g);
}

ConvGatherPlan conv_gather_plan(const ConvGeom& g) {
  ConvGatherPlan pl;
  const int s = g.stride, OH = g.OH(), OW = g.OW(), K = g.K();
  pl.HP = g.H + 2 * g.pad;
  pl.WP = g.W + 2 * g.pad;
  // forward: pixels and terms
  for (int oh = 0; oh < OH; ++oh)
    for (int ow = 0; ow < OW; ++ow) pl.fwd_base.push_back(oh * s * pl.WP + ow * s);
  for (int c = 0; c < g.C; ++c)
    for (int kh = 0; kh < g.KH; ++kh)
      for (int kw = 0; kw < g.KW; ++kw) pl.fwd_delta.push_back((c * pl.HP + kh) * pl.WP + kw);
  for (int t = 0; t < K; ++t) pl.fwd_row.push_back(t);
  pl.terms_padded = round_up(K, kBlock);
  pl.wgrad_delta = pl.fwd_delta;  // padded with a harmless offset whose sums are not used
  pl.wgrad_delta.resize(std::size_t(pl.terms_padded), 0);
  // backward-data: dy padded so that oh = (ih + pad - kh)/s stays in [-PT, RH - PT)
  pl.PT = std::max(0, (g.KH - 1 - g.pad + s - 1) / s);
  pl.PL = std::max(0, (g.KW - 1 - g.pad + s - 1) / s);
  pl.RH = std::max(OH, (g.H - 1 + g.pad) / s + 1) + pl.PT;
  pl.RW = std::max(OW, (g.W - 1 + g.pad) / s + 1) + pl.PL;
  add_phases(pl, g);
  std::size_t reached = 0;
  for (const auto& ph : pl.phases) reached += ph.pixels.size();
  pl.every_pixel_reached = reached == std::size_t(g.H) * g.W;
  pl.workspace = slice_layout(g, pl).end;
  pl.packed = 2 * std::size_t(K) * g.OC;
  pl.parts = std::size_t(pl.terms_padded) * g.OC + g.OC;
  return pl;
}

template <class T>
void conv_gather_forward(T* out, T* ws, T* packed, const T* inp, const T* weight, const T* bias, int N,
                         const ConvGeom& g, const ConvGatherPlan& pl, ConvIsa isa, Epilogue epi) {
  const int K = g.K(), P = g.P(), OC = g.OC;
  const long in_size = long(g.C) * g.H * g.W;
  const bool vec = conv_use_vector(isa);
  const Slice sl = slice_layout(g, pl);
  T* Wf = packed;  // (K, OC) packed: row k = (c, kh, kw) holds W[:, k]
  pack_rows(Wf, K, OC, [&](int k, int o) { return weight[long(o) * K + k]; });
  auto chunk = [&](int t) {
    T* w = ws + t * pl.workspace;
    if (t * N / kConvChunks < (t + 1) * N / kConvChunks) std::fill(w + sl.xp, w + sl.dyp, T(0));
    for (int n = t * N / kConvChunks; n < (t + 1) * N / kConvChunks; ++n) {
      pad_input(w + sl.xp, inp + n * in_size, g, pl);
      T* tmp = w + sl.tmp;  // (pixels, OC)
      gemm_timed([&] {
        gather(tmp, w + sl.xp, pl.fwd_base.data(), P, pl.fwd_delta.data(), pl.fwd_row.data(),
               K, Wf, K, OC, vec);
      });
      T* y = out + long(n) * OC * P;  // (OC, P)
      if (bias) transpose<TransposeOp::add_bias>(y, tmp, P, OC, vec, bias);
      else transpose<TransposeOp::copy>(y, tmp, P, OC, vec);
      if (epi == Epilogue::relu) relu_in_place(y, long(OC) * P);
    }
  };
  parallel_for(kConvChunks, chunk);
}

template <class T>
void conv_gather_backward(T* dinp, T* dweight, T* dbias, T* ws, T* packed, T* parts, const T* dout, const T* inp,
                          const T* weight, int N, const ConvGeom& g, const ConvGatherPlan& pl, ConvIsa isa) {
  const int K = g.K(), P = g.P(), OC = g.OC, C = g.C, KK = g.KH * g.KW, TP = pl.terms_padded;
  const long in_size = long(C) * g.H * g.W;
  const bool vec = conv_use_vector(isa);
  const Slice sl = slice_layout(g, pl);
  T* Wb = packed + std::size_t(K) * OC;  // (OC*KK, C) packed: row o*KK + kk holds W[o, :, kk]
  if (dinp)
    pack_rows(Wb, OC * KK, C, [&](int r, int c) { return weight[(long(r / KK) * C + c) * KK + r % KK]; });
  auto chunk = [&](int t) {
    T* w = ws + t * pl.workspace;
    T* dWt = parts + t * pl.parts;  // (TP, OC), then db (OC)
    T* db = dWt + std::size_t(TP) * OC;
    if (t * N / kConvChunks == (t + 1) * N / kConvChunks) return;
    std::fill(db, db + OC, T(0));
    std::fill(w + sl.xp, w + (dinp ? sl.dyT : sl.dyp), T(0));  // the padding of xp (and dyp)
    for (int n = t * N / kConvChunks; n < (t + 1) * N / kConvChunks; ++n) {
      const T* dy = dout + long(n) * OC * P;  // (OC, P)
      T* dyT = w + sl.dyT;                    // (P, OC)
      transpose<TransposeOp::copy>(dyT, dy, OC, P, vec);
      bias_sums(db, dyT, P, OC);
      pad_input(w + sl.xp, inp + n * in_size, g, pl);
      const bool first = n == t * N / kConvChunks;  // the slice's chains start at 0 (no pass to zero them)
      gemm_timed([&] { reduce(dWt, w + sl.xp, pl.fwd_base.data(), P, pl.wgrad_delta.data(), TP, dyT, OC, first, vec); });
      if (!dinp) continue;
      pad_grad(w + sl.dyp, dy, g, pl);
      T* tmp = w + sl.tmp;  // (pixels, C)
      T* dx = dinp + n * in_size;                 // (C, H*W)
      T* dxT = w + sl.dxT;                        // (H*W, C)
      for (const auto& ph : pl.phases) {
        gemm_timed([&] {
          gather(tmp, w + sl.dyp, ph.base.data(), int(ph.pixels.size()), ph.delta.data(), ph.row.data(),
                 int(ph.delta.size()), Wb, OC * KK, C, vec);
        });
        if (pl.every_pixel_reached) {  // rows into dxT, then one transposed add: each dx element one add
          for (std::size_t i = 0; i < ph.pixels.size(); ++i)
            std::copy(tmp + long(i) * C, tmp + long(i + 1) * C, dxT + long(ph.pixels[i]) * C);
          continue;
        }
        for (std::size_t i = 0; i < ph.pixels.size(); ++i)  // a pixel no tap reaches keeps its value (and its -0)
          for (int c = 0; c < C; ++c) dx[long(c) * g.H * g.W + ph.pixels[i]] += tmp[long(i) * C + c];
      }
      if (pl.every_pixel_reached) transpose<TransposeOp::accumulate>(dx, dxT, g.H * g.W, C, vec);
    }
  };
  parallel_for(kConvChunks, chunk);
  // Fixed-order reduction: the slices that had samples, summed in slice order into the
  // first of them, then added to the gradients (the same sums for any thread count).
  T* sum = nullptr;
  for (int t = 0; t < kConvChunks; ++t) {
    if (t * N / kConvChunks == (t + 1) * N / kConvChunks) continue;
    T* part = parts + t * pl.parts;
    if (!sum) {
      sum = part;
      continue;
    }
    for (std::size_t i = 0; i < pl.parts; ++i) sum[i] += part[i];
  }
  for (int o = 0; o < OC; ++o)
    for (int k = 0; k < K; ++k) dweight[long(o) * K + k] += sum[long(k) * OC + o];
  if (dbias)
    for (int o = 0; o < OC; ++o) dbias[o] += sum[std::size_t(TP) * OC + o];
}

template void conv_gather_forward<float>(float*, float*, float*, const float*, const float*, const float*, int,
                                         const ConvGeom&, const ConvGatherPlan&, ConvIsa, Epilogue);
template void conv_gather_forward<double>(double*, double*, double*, const double*, const double*, const double*,
                                          int, const ConvGeom&, const ConvGatherPlan&, ConvIsa, Epilogue);
template void conv_gather_backward<float>(float*, float*, float*, float*, float*, float*, const float*,
                                          const float*, const float*, int, const ConvGeom&, const ConvGatherPlan&,
                                          ConvIsa);
template void conv_gather_backward<double>(double*, double*, double*, double*, double*, double*, const double*,
                                           const double*, const double*, int, const ConvGeom&,
                                           const ConvGatherPlan&, ConvIsa);

}  // namespace normlab
