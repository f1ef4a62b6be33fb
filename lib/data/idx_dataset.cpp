// MNIST-format directory -> Dataset. Pixels stay uint8 (converted per batch
// in Split::gather); labels are widened to int32. The files are hashed while
// the images are being decompressed, on a second thread, so the checksum costs
// no wall time on a machine with two cores.
#include "data/idx_dataset.h"

#include <algorithm>
#include <filesystem>
#include <future>

#include "core/errors.h"
#include "data/idx.h"
#include "core/sha256.h"

namespace normlab {
namespace {

Split read_split(const std::string& img_path, const std::string& lab_path, int classes, Shape* shape) {
  IdxArray img = read_idx(img_path, 3);
  IdxArray lab = read_idx(lab_path, 1);
  if (img.dims[0] != lab.dims[0])
    throw DataError(lab_path + ": label count does not match the images: expected " + std::to_string(img.dims[0]) +
                    " (as in " + img_path + "), found " + std::to_string(lab.dims[0]));
  if (img.dims[1] == 0 || img.dims[2] == 0 || img.dims[1] > 4096 || img.dims[2] > 4096)
    throw DataError(img_path + ": image size must be 1..4096 per side, found " + std::to_string(img.dims[1]) + "x" +
                    std::to_string(img.dims[2]));
  std::vector<int32_t> labels(lab.data.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (lab.data[i] >= classes)
      throw DataError(lab_path + ": label out of range at index " + std::to_string(i) + ": expected 0.." +
                      std::to_string(classes - 1) + ", found " + std::to_string(lab.data[i]));
    labels[i] = lab.data[i];
  }
  *shape = Shape{1, int(img.dims[1]), int(img.dims[2])};
  return Split::from_u8(*shape, std::move(img.data), std::move(labels));
}

}  // namespace

std::vector<std::string> idx_dir_files(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw DataError(dir + ": expected a directory holding MNIST-format IDX files, found " +
                    (std::filesystem::exists(dir, ec) ? "a non-directory" : "nothing (no such directory)"));
  std::vector<std::string> out;
  for (const char* name : {kIdxTrainImages, kIdxTrainLabels, kIdxTestImages, kIdxTestLabels}) {
    std::string p = find_idx_file(dir, name);
    if (p.empty())
      throw DataError(dir + ": missing " + name + "[.gz]: expected the four files " + kIdxTrainImages + ", " +
                      kIdxTrainLabels + ", " + kIdxTestImages + ", " + kIdxTestLabels + " (raw or .gz)");
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<IdxFileHash> hash_idx_dir(const std::string& dir, std::string* checksum) {
  std::vector<IdxFileHash> hs;
  for (const auto& p : idx_dir_files(dir))
    hs.push_back({std::filesystem::path(p).filename().string(), sha256_file(p)});
  std::sort(hs.begin(), hs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  if (checksum) {
    Sha256 all;
    for (const auto& h : hs) all.update(h.sha256 + "  " + h.name + "\n");
    *checksum = all.hex_digest();
  }
  return hs;
}

Dataset load_idx_dir(const std::string& dir, int classes, std::vector<IdxFileHash>* hashes) {
  const auto files = idx_dir_files(dir);
  std::string checksum;
  auto hashing = std::async(std::launch::async, [&] { return hash_idx_dir(dir, &checksum); });
  Dataset d;
  Shape test_shape;
  try {
    d.train = read_split(files[0], files[1], classes, &d.shape);
    d.test = read_split(files[2], files[3], classes, &test_shape);
  } catch (...) {
    hashing.wait();
    throw;
  }
  auto hs = hashing.get();
  if (hashes) *hashes = std::move(hs);
  if (!(test_shape == d.shape))
    throw DataError(files[2] + ": test images must have the training images' size: expected " + d.shape.str() +
                    " (as in " + files[0] + "), found " + test_shape.str());
  d.classes = classes;
  d.checksum = checksum;
  d.location = dir;
  return d;
}

}  // namespace normlab
