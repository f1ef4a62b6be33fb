#pragma once
// SHA-256 (FIPS 180-4) through OpenSSL's EVP interface, used to pin
// downloaded files, to give every loaded dataset a checksum for run manifests,
// and to derive run ids.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace normlab {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, std::size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  // Lowercase hex digest. REQUIRES: called once; the object is spent afterwards.
  std::string hex_digest();

 private:
  void* ctx_;  // EVP_MD_CTX
};

std::string sha256_hex(std::string_view bytes);
// Hash of a file's bytes as stored on disk (compressed if it is compressed),
// i.e. what `sha256sum FILE` prints. Throws DataError if it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace normlab
