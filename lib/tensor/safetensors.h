#pragma once
// Reader and writer for the safetensors format, so checkpoints and test
// fixtures move between normlab and PyTorch without conversion.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace normlab {

struct SafeTensor {
  std::string dtype;            // "F32", "F64", "I64", "I32"
  std::vector<int64_t> shape;   // [] for a scalar
  std::vector<uint8_t> bytes;   // little-endian, row-major

  std::size_t numel() const;
  std::vector<float> to_float() const;
  std::vector<double> to_double() const;
};

struct SafeTensorFile {
  std::map<std::string, SafeTensor> tensors;
  std::map<std::string, std::string> metadata;
  // Throws std::out_of_range naming the tensor when absent.
  const SafeTensor& at(const std::string& name) const;
};

// Throws ConfigError naming the file and what is wrong (truncated, bad JSON,
// offsets outside the data, a dtype it does not know, shape or offsets that
// are not integers >= 0, a shape too large to count, __metadata__ values that
// are not strings), and no other exception for any file contents.
SafeTensorFile read_safetensors(const std::string& path);

// Writes path atomically (temporary file, then rename).
void write_safetensors(const std::string& path, const SafeTensorFile& file);

SafeTensor make_f32(const float* data, std::vector<int64_t> shape);
SafeTensor make_i64(const int64_t* data, std::vector<int64_t> shape);

}  // namespace normlab
