// Fuzz target: parse_data_spec (lib/data/spec.h) on arbitrary strings, and the
// canonical text of whatever parses, which must parse back to itself.
// ConfigError is the expected answer to a bad spec.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/errors.h"
#include "data/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const normlab::DataSpec s = normlab::parse_data_spec(text);
    // The canonical text is the dataset cache key: it must name the same spec.
    const std::string c = s.canonical();
    if (normlab::parse_data_spec(c).canonical() != c) __builtin_trap();
  } catch (const normlab::ConfigError&) {
  }
  return 0;
}
