// Pinning OpenBLAS's kernel (contract in blas_kernel.h).
//
// Decision, in order:
//   NORMLAB_BLAS_KERNEL=native        -> leave OpenBLAS alone
//   not x86-64, or no AVX2/FMA        -> leave it alone (the pinned kernel cannot run here)
//   OPENBLAS_CORETYPE == pinned kernel -> already pinned (this is the re-executed process)
//   otherwise                          -> set OPENBLAS_CORETYPE, execv(the binary's real path, argv)
// The real path (readlink of /proc/self/exe), not /proc/self/exe itself: the
// kernel names a process after the file it executes, so exec'ing the link
// would rename normlab to "exe" for pgrep, top and killall.
// A re-exec costs one process start (about a millisecond); OpenBLAS has no
// call that switches kernels after it has loaded, and loading it by hand
// (dlopen) would take every other BLAS user in the process with it.
#include "tensor/blas_kernel.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
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

// The running binary's path; /proc/self/exe when it cannot be read or the file
// was replaced since it started (a rebuild), since the link still reaches it.
std::string self_path() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0 || n >= ssize_t(sizeof buf - 1)) return "/proc/self/exe";
  std::string p(buf, std::size_t(n));
  if (p.ends_with(" (deleted)") || access(p.c_str(), X_OK) != 0) return "/proc/self/exe";
  return p;
}

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
  execv(self_path().c_str(), argv);
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
    k.warning = "could not re-execute itself to pin the BLAS kernel; OpenBLAS runs " + k.name +
                " and results may differ from other machines and from the committed baselines";
  else if (!is_pinned_kernel)
    k.warning = "OpenBLAS runs kernel " + k.name + ", not the pinned " + kPinnedBlasKernel +
                " (is this OpenBLAS built with DYNAMIC_ARCH?); results may differ from other machines "
                "and from the committed baselines";
  return k;
}

}  // namespace normlab
