#pragma once
// The OpenBLAS kernel that runs every matrix product, pinned so that the same
// build, config and seed give the same bytes on every x86-64 machine with AVX2.
//
// Debian's OpenBLAS is built with DYNAMIC_ARCH: when the library loads it picks
// a kernel for the CPU (Haswell, Zen, SkylakeX, Cooperlake, ...), or the one
// named by OPENBLAS_CORETYPE. The kernels sum in different orders, so their
// products differ in the last bits and the differences grow over training.
// normlab runs on one kernel, kPinnedBlasKernel, on every AVX2+FMA machine: the
// process re-executes itself once with OPENBLAS_CORETYPE set, because the
// variable is read only when OpenBLAS loads, before main runs.
//
// NORMLAB_BLAS_KERNEL=native opts out: OpenBLAS keeps its own choice (and any
// OPENBLAS_CORETYPE the user set), and results match only machines where it
// picks the same kernel.
#include <optional>
#include <string>

namespace normlab {

inline constexpr const char* kPinnedBlasKernel = "Haswell";      // AVX2 + FMA kernels
inline constexpr const char* kBlasKernelEnv = "NORMLAB_BLAS_KERNEL";  // pinned (default) | native

// Re-executes the process (/proc/self/exe, same argv, same environment plus
// OPENBLAS_CORETYPE) when the pin applies and is not yet in effect; otherwise
// returns. Returns an error message when NORMLAB_BLAS_KERNEL holds an unknown value.
// REQUIRES: called first in main, before any thread starts or file is opened.
std::optional<std::string> pin_blas_kernel(char** argv);

struct BlasKernel {
  std::string name;     // as OpenBLAS reports it (openblas_get_corename)
  std::string mode;     // "pinned" or "native", as asked through NORMLAB_BLAS_KERNEL
  bool pinned = false;  // name is kPinnedBlasKernel because normlab asked for it
  std::string warning;  // why results may differ from other machines; empty when pinned
};

// The kernel in use now, and whether the reproducibility contract holds.
BlasKernel blas_kernel();

}  // namespace normlab
