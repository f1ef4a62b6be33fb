// Direct one-channel, stride-1 convolution (contract and summation order in conv_direct.h).
//   xp (HP, WP) = x (H, W) with `pad` zeros around it, HP = H + 2 pad, WP = W + 2 pad
//   forward:  y[o, oh, ow] = sum_{kh, kw} w[o, kh, kw] xp[oh + kh, ow + kw] (+ bias[o])
//   backward: dW[o, kh, kw] += sum_{oh, ow} dy[o, oh, ow] xp[oh + kh, ow + kw]
// Output columns go in blocks of 8 (one AVX2 vector of floats); every value is a
// chain of std::fma, which is exactly rounded on every CPU, so the portable path
// (a libm call per fma) and the vector one (vfmadd) agree to the bit.
#include "nn/conv_direct.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "tensor/gemm.h"

namespace normlab {

namespace {
constexpr int kLanes = 8;
constexpr int kMaxTaps = 49;  // KH*KW up to 7x7: the weight gradient's accumulators live on the stack

#define NL_INLINE [[gnu::always_inline]] inline

// ws (HP*WP + kLanes) = x padded, then zeros.
template <class T>
NL_INLINE void pad_plane(T* ws, const T* x, const ConvGeom& g) {
  const int WP = g.W + 2 * g.pad, HP = g.H + 2 * g.pad;
  std::fill(ws, ws + std::size_t(HP) * WP + kLanes, T(0));
  for (int ih = 0; ih < g.H; ++ih) std::copy_n(x + long(ih) * g.W, g.W, ws + long(ih + g.pad) * WP + g.pad);
}

// FKH, FKW: the kernel size when known at compile time (3x3), else 0 (read from g).
template <class T, int FKH, int FKW>
NL_INLINE void forward_impl(T* y, T* ws, const T* x, const T* w, const T* bias, const ConvGeom& g) {
  pad_plane(ws, x, g);
  const int KH = FKH ? FKH : g.KH, KW = FKW ? FKW : g.KW, KK = KH * KW;
  const int WP = g.W + 2 * g.pad, OH = g.OH(), OW = g.OW();
  for (int o = 0; o < g.OC; ++o) {
    const T* wo = w + long(o) * KK;  // (KH, KW)
    for (int oh = 0; oh < OH; ++oh) {
      T* yr = y + (long(o) * OH + oh) * OW;  // (OW)
      for (int ow0 = 0; ow0 < OW; ow0 += kLanes) {
        T acc[kLanes] = {};
        for (int kh = 0; kh < KH; ++kh) {
          const T* xr = ws + long(oh + kh) * WP + ow0;
          for (int kw = 0; kw < KW; ++kw) {
            const T wv = wo[kh * KW + kw];
            for (int l = 0; l < kLanes; ++l) acc[l] = std::fma(wv, xr[kw + l], acc[l]);
          }
        }
        const int n = std::min(kLanes, OW - ow0);
        if (bias)
          for (int l = 0; l < n; ++l) yr[ow0 + l] = acc[l] + bias[o];
        else
          for (int l = 0; l < n; ++l) yr[ow0 + l] = acc[l];
      }
    }
  }
}

template <class T, int FKH, int FKW>
NL_INLINE void weight_grad_impl(T* dW, T* ws, const T* dy, const T* x, const ConvGeom& g) {
  pad_plane(ws, x, g);
  const int KH = FKH ? FKH : g.KH, KW = FKW ? FKW : g.KW, KK = KH * KW;
  const int WP = g.W + 2 * g.pad, OH = g.OH(), OW = g.OW();
  const int full = OW - OW % kLanes;  // columns in whole blocks
  for (int o = 0; o < g.OC; ++o) {
    T acc[kMaxTaps][kLanes] = {};
    for (int oh = 0; oh < OH; ++oh) {
      const T* dyr = dy + (long(o) * OH + oh) * OW;  // (OW)
      for (int ow0 = 0; ow0 < full; ow0 += kLanes)
        for (int kh = 0; kh < KH; ++kh) {
          const T* xr = ws + long(oh + kh) * WP + ow0;
          for (int kw = 0; kw < KW; ++kw)
            for (int l = 0; l < kLanes; ++l)
              acc[kh * KW + kw][l] = std::fma(dyr[ow0 + l], xr[kw + l], acc[kh * KW + kw][l]);
        }
      const int n = OW - full;  // the last, partial block: lanes 0..n-1
      for (int kh = 0; kh < KH; ++kh) {
        const T* xr = ws + long(oh + kh) * WP + full;
        for (int kw = 0; kw < KW; ++kw)
          for (int l = 0; l < n; ++l)
            acc[kh * KW + kw][l] = std::fma(dyr[full + l], xr[kw + l], acc[kh * KW + kw][l]);
      }
    }
    for (int k = 0; k < KK; ++k) {
      const T* a = acc[k];
      dW[long(o) * KK + k] += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
  }
}

template <class T>
NL_INLINE void forward_any(T* y, T* ws, const T* x, const T* w, const T* b, const ConvGeom& g) {
  if (g.KH == 3 && g.KW == 3) return forward_impl<T, 3, 3>(y, ws, x, w, b, g);
  forward_impl<T, 0, 0>(y, ws, x, w, b, g);
}

template <class T>
NL_INLINE void weight_grad_any(T* dW, T* ws, const T* dy, const T* x, const ConvGeom& g) {
  if (g.KH == 3 && g.KW == 3) return weight_grad_impl<T, 3, 3>(dW, ws, dy, x, g);
  weight_grad_impl<T, 0, 0>(dW, ws, dy, x, g);
}

// The vector path for float, in AVX2 intrinsics: the same fma per lane as
// forward_impl / weight_grad_impl, with the accumulators in registers.
#define NL_AVX2 __attribute__((target("avx2,fma")))

// Lanes 0..n-1 set (n in 0..8).
NL_AVX2 inline __m256i lane_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// NB column blocks of one output row (NB fma chains in flight, in registers:
// every count is a compile-time constant); a block past the row's end computes
// lanes that are not stored.
template <int NB>
NL_AVX2 inline void forward_blocks_3x3(float* yr, const float* xr, int WP, const __m256* wv, __m256 b, bool bias,
                                       int ow0, int OW) {
  __m256 acc[NB];
#pragma GCC unroll 4
  for (int i = 0; i < NB; ++i) acc[i] = _mm256_setzero_ps();
#pragma GCC unroll 3
  for (int kh = 0; kh < 3; ++kh)
#pragma GCC unroll 3
    for (int kw = 0; kw < 3; ++kw)
#pragma GCC unroll 4
      for (int i = 0; i < NB; ++i)
        acc[i] = _mm256_fmadd_ps(wv[kh * 3 + kw], _mm256_loadu_ps(xr + long(kh) * WP + ow0 + i * kLanes + kw), acc[i]);
#pragma GCC unroll 4
  for (int i = 0; i < NB; ++i) {
    const int o = ow0 + i * kLanes, n = std::min(kLanes, OW - o);
    const __m256 v = bias ? _mm256_add_ps(acc[i], b) : acc[i];
    if (n == kLanes)
      _mm256_storeu_ps(yr + o, v);
    else
      _mm256_maskstore_ps(yr + o, lane_mask(n), v);
  }
}

NL_AVX2 void forward_vector_f32(float* y, float* ws, const float* x, const float* w, const float* bias,
                                const ConvGeom& g) {
  if (g.KH != 3 || g.KW != 3) return forward_impl<float, 0, 0>(y, ws, x, w, bias, g);  // the plain loops
  pad_plane(ws, x, g);
  const int WP = g.W + 2 * g.pad, OH = g.OH(), OW = g.OW();
  const int blocks = (OW + kLanes - 1) / kLanes;
  for (int o = 0; o < g.OC; ++o) {
    __m256 wv[9];
    for (int k = 0; k < 9; ++k) wv[k] = _mm256_set1_ps(w[long(o) * 9 + k]);
    const __m256 b = _mm256_set1_ps(bias ? bias[o] : 0.f);
    for (int oh = 0; oh < OH; ++oh) {
      float* yr = y + (long(o) * OH + oh) * OW;
      const float* xr = ws + long(oh) * WP;
      int b0 = 0;
      for (; b0 + 4 <= blocks; b0 += 4) forward_blocks_3x3<4>(yr, xr, WP, wv, b, bias, b0 * kLanes, OW);
      switch (blocks - b0) {
        case 3: forward_blocks_3x3<3>(yr, xr, WP, wv, b, bias, b0 * kLanes, OW); break;
        case 2: forward_blocks_3x3<2>(yr, xr, WP, wv, b, bias, b0 * kLanes, OW); break;
        case 1: forward_blocks_3x3<1>(yr, xr, WP, wv, b, bias, b0 * kLanes, OW); break;
        default: break;
      }
    }
  }
}

// One output channel's KK accumulators in registers (3x3: 9 of them); the
// last, partial block adds into lanes 0..n-1 only (a blend keeps the others).
template <int KK, int KW>
NL_AVX2 void weight_grad_channel_f32(float* dWo, const float* ws, const float* dyo, const ConvGeom& g) {
  const int WP = g.W + 2 * g.pad, OH = g.OH(), OW = g.OW();
  const int full = OW - OW % kLanes, n = OW - full;
  const __m256i mask = lane_mask(n);
  __m256 acc[KK];
#pragma GCC unroll 9
  for (int k = 0; k < KK; ++k) acc[k] = _mm256_setzero_ps();
  for (int oh = 0; oh < OH; ++oh) {
    const float* dyr = dyo + long(oh) * OW;
    for (int ow0 = 0; ow0 < full; ow0 += kLanes) {
      const __m256 d = _mm256_loadu_ps(dyr + ow0);
#pragma GCC unroll 9
      for (int k = 0; k < KK; ++k)
        acc[k] = _mm256_fmadd_ps(d, _mm256_loadu_ps(ws + long(oh + k / KW) * WP + ow0 + k % KW), acc[k]);
    }
    if (n == 0) continue;
    const __m256 d = _mm256_maskload_ps(dyr + full, mask);
    const __m256 keep = _mm256_castsi256_ps(mask);
#pragma GCC unroll 9
    for (int k = 0; k < KK; ++k) {
      const __m256 t = _mm256_fmadd_ps(d, _mm256_loadu_ps(ws + long(oh + k / KW) * WP + full + k % KW), acc[k]);
      acc[k] = _mm256_blendv_ps(acc[k], t, keep);
    }
  }
  for (int k = 0; k < KK; ++k) {
    alignas(32) float a[kLanes];
    _mm256_store_ps(a, acc[k]);
    dWo[k] += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
  }
}

NL_AVX2 void weight_grad_vector_f32(float* dW, float* ws, const float* dy, const float* x, const ConvGeom& g) {
  if (g.KH != 3 || g.KW != 3) return weight_grad_impl<float, 0, 0>(dW, ws, dy, x, g);  // the plain loops
  pad_plane(ws, x, g);
  for (int o = 0; o < g.OC; ++o) weight_grad_channel_f32<9, 3>(dW + long(o) * 9, ws, dy + long(o) * g.P(), g);
}

// The two compilations of each kernel.
template <class T>
NL_AVX2 void forward_vector(T* y, T* ws, const T* x, const T* w, const T* b, const ConvGeom& g) {
  if constexpr (std::is_same_v<T, float>)
    forward_vector_f32(y, ws, x, w, b, g);
  else
    forward_any(y, ws, x, w, b, g);
}
template <class T>
void forward_portable(T* y, T* ws, const T* x, const T* w, const T* b, const ConvGeom& g) {
  forward_any(y, ws, x, w, b, g);
}
template <class T>
NL_AVX2 void weight_grad_vector(T* dW, T* ws, const T* dy, const T* x, const ConvGeom& g) {
  if constexpr (std::is_same_v<T, float>)
    weight_grad_vector_f32(dW, ws, dy, x, g);
  else
    weight_grad_any(dW, ws, dy, x, g);
}
template <class T>
void weight_grad_portable(T* dW, T* ws, const T* dy, const T* x, const ConvGeom& g) {
  weight_grad_any(dW, ws, dy, x, g);
}

}  // namespace

bool conv_direct_applies(const ConvGeom& g) {
  return g.C == 1 && g.stride == 1 && g.KH * g.KW <= kMaxTaps;
}

std::size_t conv_direct_workspace(const ConvGeom& g) {
  return std::size_t(g.H + 2 * g.pad) * (g.W + 2 * g.pad) + kLanes;
}

template <class T>
void conv_direct_forward(T* y, T* ws, const T* x, const T* weight, const T* bias, const ConvGeom& g,
                         ConvIsa isa) {
  gemm_timed([&] {  // counted with the matrix products: it does their work
    if (conv_use_vector(isa))
      forward_vector(y, ws, x, weight, bias, g);
    else
      forward_portable(y, ws, x, weight, bias, g);
  });
}

template <class T>
void conv_direct_weight_grad(T* dweight, T* ws, const T* dy, const T* x, const ConvGeom& g, ConvIsa isa) {
  gemm_timed([&] {
    if (conv_use_vector(isa))
      weight_grad_vector(dweight, ws, dy, x, g);
    else
      weight_grad_portable(dweight, ws, dy, x, g);
  });
}

template void conv_direct_forward<float>(float*, float*, const float*, const float*, const float*,
                                         const ConvGeom&, ConvIsa);
template void conv_direct_forward<double>(double*, double*, const double*, const double*, const double*,
                                          const ConvGeom&, ConvIsa);
template void conv_direct_weight_grad<float>(float*, float*, const float*, const float*, const ConvGeom&,
                                             ConvIsa);
template void conv_direct_weight_grad<double>(double*, double*, const double*, const double*,
                                              const ConvGeom&, ConvIsa);

}  // namespace normlab
