// Fuzz target: read_idx and read_idx_dims (lib/data/idx.h) on arbitrary file
// contents, raw or gzipped, as labels (1 dim) and as images (3 dims).
// DataError is the expected answer to a bad file; anything else is a finding.
#include <cstddef>
#include <cstdint>

#include "core/errors.h"
#include "data/idx.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = normlab::fuzz::scratch_file(data, size, "idx");
  for (int ndims : {1, 3}) {
    try {
      normlab::read_idx_dims(path, ndims);
    } catch (const normlab::DataError&) {
    }
    try {
      const normlab::IdxArray a = normlab::read_idx(path, ndims);
      // The contract: exactly the dims asked for, and data.size() == prod(dims),
      // the product taken without wrapping (a double is exact up to 2^53).
      double total = 1;
      for (uint32_t d : a.dims) total *= double(d);
      if (a.dims.size() != std::size_t(ndims) || double(a.data.size()) != total) __builtin_trap();
    } catch (const normlab::DataError&) {
    }
  }
  return 0;
}
