#pragma once
// IDX files (the MNIST format), gzipped or raw.
#include <cstdint>
#include <string>
#include <vector>

namespace normlab {

// An unsigned-byte IDX array: dims (big-endian on disk) and row-major data.
struct IdxArray {
  std::vector<uint32_t> dims;
  std::vector<uint8_t> data;  // size == product of dims
};

// Reads an IDX file of element type 0x08 (unsigned byte) with exactly
// `expect_ndims` dimensions. Gzip is detected from the content (magic 1f 8b),
// not the file name. The file must hold exactly the header plus
// prod(dims) bytes.
// Throws DataError naming the file, what was expected and what was found, for:
// unreadable file, bad magic, other element type, wrong dimension count,
// truncated or trailing data, corrupt gzip stream.
IdxArray read_idx(const std::string& path, int expect_ndims);

// Reads only the header (magic and dims): cheap even for big gzipped files.
// Same checks as read_idx except the payload length.
std::vector<uint32_t> read_idx_dims(const std::string& path, int expect_ndims);

// Writes an unsigned-byte IDX file, gzipped if gzip is true. Writes to
// PATH.tmp then renames, so a killed process never leaves a half file.
// REQUIRES: data.size() == product of dims; 1 <= dims.size() <= 255.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims,
               const std::vector<uint8_t>& data, bool gzip);

// The four standard file names of an MNIST-format directory, without ".gz".
inline constexpr const char* kIdxTrainImages = "train-images-idx3-ubyte";
inline constexpr const char* kIdxTrainLabels = "train-labels-idx1-ubyte";
inline constexpr const char* kIdxTestImages = "t10k-images-idx3-ubyte";
inline constexpr const char* kIdxTestLabels = "t10k-labels-idx1-ubyte";

// DIR/NAME.gz if it exists, else DIR/NAME if it exists, else "".
std::string find_idx_file(const std::string& dir, const std::string& name);

}  // namespace normlab
