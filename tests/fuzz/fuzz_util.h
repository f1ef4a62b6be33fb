#pragma once
// Helpers shared by the fuzz targets.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace normlab::fuzz {

// Writes the input to one file per process and target (rewritten every
// iteration, removed at exit) and returns its path, for readers that take a
// path and nothing else. Throws std::runtime_error if it cannot be written: a
// broken harness, not a finding in the reader.
inline std::string scratch_file(const uint8_t* data, std::size_t size, const char* tag) {
  // /dev/shm when there is one: on a disk the file I/O, not the reader, would
  // set the speed (about 50x slower).
  static const std::string path = [tag] {
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::is_directory("/dev/shm", ec)
                                          ? std::filesystem::path("/dev/shm")
                                          : std::filesystem::temp_directory_path();
    return (dir / ("normlab_fuzz_" + std::string(tag) + "_" + std::to_string(getpid()))).string();
  }();
  static const struct Remove {
    const std::string& p;
    ~Remove() { std::remove(p.c_str()); }
  } remove_at_exit{path};
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error(path + ": cannot write");
  const bool ok = size == 0 || std::fwrite(data, 1, size, f) == size;  // data may be null when empty
  if (std::fclose(f) != 0 || !ok) throw std::runtime_error(path + ": write failed");
  return path;
}

}  // namespace normlab::fuzz
