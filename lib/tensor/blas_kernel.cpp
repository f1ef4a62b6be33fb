// Pinning OpenBLAS's kernel (contract in blas_kernel.h).
//
// Decision, in order:
//   NORMLAB_BLAS_KERNEL=native        -> leave OpenBLAS alone
//   not x86-64, or no AVX2/FMA        -> leave it alone (the pinned kernel cannot run here)
//   OPENBLAS_CORETYPE == pinned kernel -> already pinned (this is the re-executed process)
//   otherwise                          -> set OPENBLAS_CORETYPE, execv(/proc/self/exe, argv)
// A re-exec costs one process start (about a millisecond); OpenBLAS has no
// call that switches kernels after it has loaded, and loading it by hand
// (dlopen) would take every other BLAS user in the process with it.
#include "tensor/blas_kernel.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <strings.h>

namespace normlab {

namespace {

bool cpu_can_run_pinned() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

bool reexec_failed = false;  // set when execv returned

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

}  // namespace

std::optional<std::string> pin_blas_kernel(char** argv) {
  const std::string mode = env_or(kBlasKernelEnv, "pinned");
  if (mode != "pinned" && mode != "native")
    return std::string(kBlasKernelEnv) + "='" + mode + "' (allowed: pinned, native)";
  if (mode == "native" || !cpu_can_run_pinned()) return std::nullopt;
  if (env_or("OPENBLAS_CORETYPE", "") == kPinnedBlasKernel) return std::nullopt;
  setenv("OPENBLAS_CORETYPE", kPinnedBlasKernel, 1);
  execv("/proc/self/exe", argv);
  reexec_failed = true;
  return std::nullopt;  // exec failed: run unpinned; blas_kernel() says so
}

BlasKernel blas_kernel() {
  BlasKernel k;
  const char* name = openblas_get_corename();
  k.name = name ? name : "unknown";
  k.mode = env_or(kBlasKernelEnv, "pinned");
  const bool is_pinned_kernel = strcasecmp(k.name.c_str(), kPinnedBlasKernel) == 0;
  k.pinned = k.mode == "pinned" && is_pinned_kernel;
  if (k.mode == "native")
    k.warning = "NORMLAB_BLAS_KERNEL=native: OpenBLAS runs its own choice of kernel (" + k.name +
                "); results match only machines where it picks the same kernel, and may differ from the "
                "committed baselines (made with " + kPinnedBlasKernel + ")";
  else if (!cpu_can_run_pinned())
    k.warning = std::string("this CPU is not x86-64 with AVX2 and FMA, so the ") + kPinnedBlasKernel +
                " kernel cannot run; OpenBLAS uses " + k.name +
                " and results may differ from other machines and from the committed baselines";
  else if (!is_pinned_kernel && reexec_failed)
    k.warning = "could not re-execute /proc/self/exe to pin the BLAS kernel; OpenBLAS runs " + k.name +
                " and results may differ from other machines and from the committed baselines";
  else if (!is_pinned_kernel)
    k.warning = "OpenBLAS runs kernel " + k.name + ", not the pinned " + kPinnedBlasKernel +
                " (is this OpenBLAS built with DYNAMIC_ARCH?); results may differ from other machines "
                "and from the committed baselines";
  return k;
}

}  // namespace normlab
