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
