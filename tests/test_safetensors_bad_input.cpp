// Malformed safetensors headers: each is a ConfigError naming the file, never
// another exception, undefined behaviour or a huge allocation. The inputs are
// those fuzz_safetensors found; their files are also in tests/fuzz/corpus.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <string>

#include "core/errors.h"
#include "data_test_util.h"
#include "tensor/safetensors.h"

using namespace normlab;
using normlab::testing::ScratchDir;

namespace {

// A safetensors file: u64 header length, the header, then `data` bytes of zeros.
std::string error_of(const ScratchDir& dir, const std::string& header, std::size_t data = 0) {
  const std::string path = dir / "t.safetensors";
  {
    std::ofstream o(path, std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) o.put(char((n >> (8 * i)) & 0xff));
    o << header << std::string(data, '\0');
  }
  try {
    read_safetensors(path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("safetensors: malformed headers are ConfigErrors naming the file") {
  ScratchDir d("safetensors-bad");
  auto has = [](const std::string& e, const std::string& s) { return e.find(s) != std::string::npos; };
  CHECK(has(error_of(d, R"({"__metadata__": {"k": 1}})"), "__metadata__: expected an object of strings"));
  CHECK(has(error_of(d, R"({"__metadata__": 5})"), "t.safetensors"));
  // Negative dims used to wrap around to a matching byte count.
  CHECK(has(error_of(d, R"({"x": {"dtype": "F32", "shape": [-1, -4], "data_offsets": [0, 16]}})", 16),
            "shape: expected a list of integers >= 0"));
  // Floats out of integer range were converted with undefined behaviour.
  CHECK(has(error_of(d, R"({"x": {"dtype": "F32", "shape": [1e300], "data_offsets": [0, 4]}})", 4),
            "shape: expected a list of integers >= 0"));
  CHECK(has(error_of(d, R"({"x": {"dtype": "F32", "shape": [1], "data_offsets": [-1e300, 4]}})", 4),
            "data_offsets: expected a list of integers >= 0"));
  // 2^62 elements of 4 bytes wrapped to 0 bytes and loaded, then failed to allocate.
  CHECK(has(error_of(d, R"({"x": {"dtype": "F32", "shape": [4611686018427387904], "data_offsets": [0, 0]}})"),
            "more elements than fit in memory"));
  // A zero dim makes any other dim harmless.
  CHECK(error_of(d, R"({"x": {"dtype": "F32", "shape": [0, 4611686018427387904], "data_offsets": [0, 0]}})") == "");
}
