// numerics_id() names the arithmetic a run's bytes come from (tensor/numerics.h),
// including the vector ISA the build's own code was compiled for.
#include <doctest/doctest.h>

#include <string>

#include "tensor/numerics.h"

using namespace normlab;

TEST_CASE("numerics: the compiled ISA's token lists the extensions that change result bytes") {
  CHECK(compiled_isa_token(false, false, false, false) == "");
  CHECK(compiled_isa_token(true, false, false, false) == "+avx");
  CHECK(compiled_isa_token(true, true, false, false) == "+avx2");
  CHECK(compiled_isa_token(true, true, true, false) == "+avx2+fma");
  CHECK(compiled_isa_token(true, true, true, true) == "+avx512f+avx2+fma");
}

TEST_CASE("numerics: the compiler is named when it is not the reference (GCC 12.2.0)") {
  CHECK(compiler_token(false, 12, 2, 0) == "");
  CHECK(compiler_token(false, 12, 3, 0) == "+gcc12.3.0");
  CHECK(compiler_token(false, 13, 2, 0) == "+gcc13.2.0");
  CHECK(compiler_token(true, 12, 2, 0) == "+clang12.2.0");  // clang's own numbers, never the reference
  CHECK(compiler_token(true, 14, 0, 6) == "+clang14.0.6");
#if defined(__clang__)
  const std::string mine = compiler_token(true, __clang_major__, __clang_minor__, __clang_patchlevel__);
#else
  const std::string mine = compiler_token(false, __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#endif
  CHECK(numerics_id().find(std::to_string(kNumericsVersion) + compiled_isa() + mine + "-") == 0);
}

TEST_CASE("numerics: the id is the version, this build's ISA, the BLAS and its kernel") {
  // This test is compiled with the library's flags, so its isa_here is the library's.
  const std::string isa = compiled_isa_token(isa_here::avx, isa_here::avx2, isa_here::fma, isa_here::avx512f);
  const std::string want = std::to_string(kNumericsVersion) + isa + "-";
  const std::string id = numerics_id();
  CHECK(id.rfind(want, 0) == 0);
  CHECK(compiled_isa() == isa);
  CHECK(id.find(' ') == std::string::npos);
  CHECK(id.find("openblas") != std::string::npos);
}
