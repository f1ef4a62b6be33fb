// numerics_id() = kNumericsVersion, the BLAS library and version this build links
// (build_stamp) and the kernel OpenBLAS runs now (blas_kernel), as one lower-case token.
#include "tensor/numerics.h"

#include <fmt/format.h>

#include <cctype>

#include "core/build_stamp.h"
#include "tensor/blas_kernel.h"

namespace normlab {

std::string numerics_id() {
  std::string id = fmt::format("{} {} {}", kNumericsVersion, build_stamp().blas, blas_kernel().name);
  for (char& c : id) c = c == ' ' ? '-' : char(std::tolower(static_cast<unsigned char>(c)));
  return id;
}

}  // namespace normlab
