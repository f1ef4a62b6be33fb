#pragma once
// The arithmetic a run's bytes come from. The same config and seed give the same
// bytes under the same numerics; a change of any part below changes them (well within
// float rounding, then amplified by training):
//   kNumericsVersion  the engine's own summation orders; raised by every engine change
//                     that changes result bytes (docs/claims.md, "Engine changes that
//                     changed result bytes", lists them)
//   the BLAS          its library version and the kernel it runs (tensor/blas_kernel.h)
//   the vector ISA    the instruction set normlab's own code was compiled for, beyond
//                     x86-64's SSE2 (a build with -march=native or -mavx2): the width of
//                     the compiler's vectorized loops and of Eigen's packet math, and
//                     fused multiply-adds, change result bytes (measured: a cnn-small run
//                     built with -mavx2 -mfma -ffp-contract=off moved from step 100 on)
//   the compiler      another compiler (or version) than the reference, Debian 12's
//                     GCC 12.2.0, schedules and contracts the same source differently;
//                     named only when it is not the reference, so that ids recorded by
//                     reference builds before the compiler was part of the id still match
// A sweep folder's parts record the numerics of the build that computed them
// (sweep/sweep_dir.h), and a part with other numerics is not trusted: the run is
// computed again, so one folder never mixes two arithmetics in one comparison.
#include <string>

namespace normlab {

// 1: before the record; 2: 750cbb5 (the rnn's tanh through Eigen's vectorized form);
// 3: 0d8d5e4 (direct first convolution; few-row rnn products); 4: the activation probe
// restores the random streams it draws from (dropout, noisy BN), so runs with them draw anew;
// 5: multi-channel and strided convolutions computed directly in a fixed fma order
// (nn/conv_gather.h) instead of im2col + OpenBLAS; 6: float dense layers with a wide input
// and few outputs (the cnn's classifier) computed in a fixed fma order (nn/dense_wide.h);
// 7: the normalization core's sums over a span in 8 fixed lanes (nn/norm_core.cpp), so
// that its AVX2 compilation gives the portable one's bytes.
inline constexpr int kNumericsVersion = 7;

// "V[+ISA...][+COMPILER]-LIBRARY-VERSION-KERNEL", e.g. "6-openblas-0.3.21-haswell" (the
// default build) or "6+avx2+fma+clang14.0.6-openblas-0.3.21-haswell": lower case, no spaces.
std::string numerics_id();

// "" for the reference compiler (GCC 12.2.0, not clang), else "+gccMAJOR.MINOR.PATCH" or
// "+clangMAJOR.MINOR.PATCH".
std::string compiler_token(bool clang, int major, int minor, int patch);

// The ISA tokens of a build compiled with these extensions, in this order: "+avx512f",
// "+avx2" (or "+avx" without AVX2), "+fma"; "" for none (x86-64's baseline).
std::string compiled_isa_token(bool avx, bool avx2, bool fma, bool avx512f);

// The extensions the including translation unit is compiled for (internal linkage, so each
// unit sees its own flags).
namespace isa_here {
#if defined(__AVX__)
static constexpr bool avx = true;
#else
static constexpr bool avx = false;
#endif
#if defined(__AVX2__)
static constexpr bool avx2 = true;
#else
static constexpr bool avx2 = false;
#endif
#if defined(__FMA__)
static constexpr bool fma = true;
#else
static constexpr bool fma = false;
#endif
#if defined(__AVX512F__)
static constexpr bool avx512f = true;
#else
static constexpr bool avx512f = false;
#endif
}  // namespace isa_here

// compiled_isa_token() for the flags the library was compiled with.
std::string compiled_isa();

}  // namespace normlab
