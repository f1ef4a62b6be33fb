// Fuzz target: read_safetensors (lib/tensor/safetensors.h) on arbitrary file
// contents, then the conversions callers apply to every tensor it returns.
// ConfigError is the expected answer to a bad file.
#include <cstddef>
#include <cstdint>

#include "core/errors.h"
#include "fuzz_util.h"
#include "tensor/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = normlab::fuzz::scratch_file(data, size, "safetensors");
  try {
    const normlab::SafeTensorFile f = normlab::read_safetensors(path);
    for (const auto& [name, t] : f.tensors) {
      // A tensor that loaded holds exactly its shape's elements.
      if (t.to_float().size() != t.numel() || t.to_double().size() != t.numel()) __builtin_trap();
    }
  } catch (const normlab::ConfigError&) {
  }
  return 0;
}
