// numerics_id() = kNumericsVersion, the vector ISA the library was compiled for (from the
// compiler's predefined macros, so it follows -march=native, -mavx2 and the like), the BLAS
// library and version this build links (build_stamp) and the kernel OpenBLAS runs now
// (blas_kernel), as one lower-case token.
#include "tensor/numerics.h"

#include <fmt/format.h>

#include <cctype>

#include "core/build_stamp.h"
#include "tensor/blas_kernel.h"

namespace normlab {

std::string compiled_isa_token(bool avx, bool avx2, bool fma, bool avx512f) {
  std::string s;
  if (avx512f) s += "+avx512f";
  if (avx2) s += "+avx2";
  else if (avx) s += "+avx";
  if (fma) s += "+fma";
  return s;
}

std::string compiled_isa() {
  return compiled_isa_token(isa_here::avx, isa_here::avx2, isa_here::fma, isa_here::avx512f);
}

std::string compiler_token(bool clang, int major, int minor, int patch) {
  if (!clang && major == 12 && minor == 2 && patch == 0) return "";
  return fmt::format("+{}{}.{}.{}", clang ? "clang" : "gcc", major, minor, patch);
}

namespace {
std::string this_compiler() {
#if defined(__clang__)
  return compiler_token(true, __clang_major__, __clang_minor__, __clang_patchlevel__);
#else
  return compiler_token(false, __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
}
}  // namespace

std::string numerics_id() {
  std::string id = fmt::format("{}{}{} {} {}", kNumericsVersion, compiled_isa(), this_compiler(), build_stamp().blas,
                               blas_kernel().name);
  for (char& c : id) c = c == ' ' ? '-' : char(std::tolower(static_cast<unsigned char>(c)));
  return id;
}

}  // namespace normlab
