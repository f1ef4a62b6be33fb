#pragma once
// A dataset from an MNIST-format directory: train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
// each raw or with .gz appended (the .gz one wins if both exist).
#include <string>
#include <vector>

#include "data/dataset.h"

namespace normlab {

struct IdxFileHash {
  std::string name;    // file name within the directory, e.g. "t10k-images-idx3-ubyte.gz"
  std::string sha256;
};

// The four files' paths in the order train images, train labels, test images,
// test labels. Throws DataError naming the directory and the missing file.
std::vector<std::string> idx_dir_files(const std::string& dir);

// sha256 of each file, sorted by file name, and the dataset checksum over them:
// sha256 of the lines "HASH  NAME\n" in that order, which is what
// `sha256sum t10k-* train-* | sha256sum` prints in that directory.
std::vector<IdxFileHash> hash_idx_dir(const std::string& dir, std::string* checksum);

// Reads and validates the four files: images (n, rows, cols) and labels (n)
// with matching n per split, equal image sizes in train and test, and every
// label < classes. Fills train, test, shape, classes, checksum, location.
// Throws DataError naming the file, what was expected and what was found.
// If hashes is given, it receives hash_idx_dir's per-file hashes.
Dataset load_idx_dir(const std::string& dir, int classes = 10, std::vector<IdxFileHash>* hashes = nullptr);

}  // namespace normlab
