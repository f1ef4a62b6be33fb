#pragma once
// SHA-256 (FIPS 180-4), used to pin downloaded files and to give every loaded
// dataset a checksum for run manifests. Self-contained so the library needs no
// crypto dependency.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace normlab {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Lowercase hex digest. REQUIRES: called once; the object is spent afterwards.
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  std::size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string sha256_hex(std::string_view bytes);
// Hash of a file's bytes as stored on disk (compressed if it is compressed),
// i.e. what `sha256sum FILE` prints. Throws DataError if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace normlab
