#pragma once
// Helpers shared by the data tests: scratch directories and IDX writers that
// can produce deliberately broken files.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/idx.h"

namespace normlab::testing {

// A fresh directory under the temp dir, removed at scope exit.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() /
           ("normlab-test-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  std::string str() const { return path.string(); }
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream o(path, std::ios::binary);
  o.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream i(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(i)), std::istreambuf_iterator<char>());
}

// Raw IDX bytes with an arbitrary header: magic type byte, dims, payload.
inline std::vector<uint8_t> idx_bytes(uint8_t type, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b{0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// Writes a valid MNIST-format directory: n_train/n_test images of rows x cols,
// pixel (i, p) = (7*i + p) % 256, label i % 10.
inline void write_idx_dir(const std::string& dir, int n_train, int n_test, int rows, int cols, bool gzip) {
  std::filesystem::create_directories(dir);
  auto make = [&](const char* img, const char* lab, int n) {
    std::vector<uint8_t> x(std::size_t(n) * rows * cols), y(n);
    for (int i = 0; i < n; ++i) {
      y[i] = uint8_t(i % 10);
      for (int p = 0; p < rows * cols; ++p) x[std::size_t(i) * rows * cols + p] = uint8_t((7 * i + p) % 256);
    }
    const std::string ext = gzip ? ".gz" : "";
    write_idx(dir + "/" + img + ext, {uint32_t(n), uint32_t(rows), uint32_t(cols)}, x, gzip);
    write_idx(dir + "/" + lab + ext, {uint32_t(n)}, y, gzip);
  };
  make(kIdxTrainImages, kIdxTrainLabels, n_train);
  make(kIdxTestImages, kIdxTestLabels, n_test);
}

}  // namespace normlab::testing
