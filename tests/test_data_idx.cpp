// IDX reader/writer and MNIST-format directories: round trips (raw and gz)
// and every corruption case ending in a DataError that names the file and
// says what was expected and what was found.
#include <doctest/doctest.h>
#include <zlib.h>

#include <functional>

#include "core/errors.h"
#include "data/dataset.h"
#include "data/idx.h"
#include "data/idx_dataset.h"
#include "core/sha256.h"
#include "data_test_util.h"

using namespace normlab;
using normlab::testing::idx_bytes;
using normlab::testing::read_bytes;
using normlab::testing::ScratchDir;
using normlab::testing::write_bytes;

namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

void write_gz(const std::string& path, const std::vector<uint8_t>& b) {
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, b.data(), unsigned(b.size())) == int(b.size()));
  gzclose(f);
}

}  // namespace

TEST_CASE("IDX round trip, raw and gzipped") {
  ScratchDir dir("idx-rt");
  std::vector<uint8_t> data(5 * 4 * 3);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 37 + 11);
  for (bool gz : {false, true}) {
    CAPTURE(gz);
    const std::string p = dir / (gz ? "a.gz" : "a");
    write_idx(p, {5, 4, 3}, data, gz);
    const auto bytes = read_bytes(p);
    REQUIRE(bytes.size() > 2);
    CHECK((bytes[0] == 0x1f && bytes[1] == 0x8b) == gz);  // really compressed or really raw
    if (!gz) CHECK(bytes.size() == 4 + 3 * 4 + data.size());
    const IdxArray a = read_idx(p, 3);
    CHECK(a.dims == std::vector<uint32_t>{5, 4, 3});
    CHECK(a.data == data);
    CHECK(read_idx_dims(p, 3) == std::vector<uint32_t>{5, 4, 3});
  }
  // gzip is detected from the content, not the name
  write_idx(dir / "named-raw", {2}, {9, 250}, true);
  CHECK(read_idx(dir / "named-raw", 1).data == std::vector<uint8_t>{9, 250});
}

TEST_CASE("MNIST-format directory loads with the right counts, shape, pixels and labels") {
  for (bool gz : {false, true}) {
    CAPTURE(gz);
    ScratchDir dir(gz ? "idxdir-gz" : "idxdir-raw");
    testing::write_idx_dir(dir.str(), 23, 7, 5, 6, gz);
    std::vector<IdxFileHash> hs;
    const Dataset d = load_idx_dir(dir.str(), 10, &hs);
    CHECK(d.train.count() == 23);
    CHECK(d.test.count() == 7);
    CHECK(d.shape == Shape{1, 5, 6});
    CHECK(d.train.is_u8());
    std::vector<float> x(2 * 30);
    std::vector<int32_t> y(2);
    const uint32_t idx[2] = {22, 3};
    d.train.gather(x.data(), y.data(), idx, 2);
    CHECK(y[0] == 2);
    CHECK(y[1] == 3);
    for (int p = 0; p < 30; ++p) {
      CHECK(x[p] == doctest::Approx(((7 * 22 + p) % 256) / 255.0).epsilon(1e-6));
      CHECK(x[30 + p] == doctest::Approx(((7 * 3 + p) % 256) / 255.0).epsilon(1e-6));
    }
    // checksum = sha256 over "HASH  NAME\n" lines sorted by name, as `sha256sum t10k-* train-* | sha256sum`
    REQUIRE(hs.size() == 4);
    CHECK(hs[0].name.rfind("t10k-images", 0) == 0);
    std::string lines;
    for (const auto& h : hs) {
      CHECK(h.sha256 == sha256_file(dir / h.name));
      lines += h.sha256 + "  " + h.name + "\n";
    }
    CHECK(d.checksum == sha256_hex(lines));
  }
}

TEST_CASE("raw and gz files can be mixed in one directory, .gz preferred") {
  ScratchDir dir("idx-mixed");
  testing::write_idx_dir(dir.str(), 12, 4, 3, 3, false);
  // Replace the test labels by a gz file with different labels: it must win.
  write_idx(dir / "t10k-labels-idx1-ubyte.gz", {4}, {9, 9, 9, 9}, true);
  const Dataset d = load_idx_dir(dir.str());
  CHECK(d.test.labels() == std::vector<int32_t>{9, 9, 9, 9});
  CHECK(d.train.labels()[11] == 1);
}

TEST_CASE("corrupt IDX files are DataErrors naming the file, the expectation and the finding") {
  ScratchDir dir("idx-bad");
  const std::vector<uint8_t> px(4 * 2 * 2, 7);

  SUBCASE("bad magic") {
    auto b = idx_bytes(0x08, {4, 2, 2}, px);
    b[0] = 0x12;
    write_bytes(dir / "m", b);
    const std::string e = error_of([&] { read_idx(dir / "m", 3); });
    CHECK(e.find(dir / "m") != std::string::npos);
    CHECK(e.find("magic") != std::string::npos);
    CHECK(e.find("expected 0x00000803") != std::string::npos);
    CHECK(e.find("found 0x12000803") != std::string::npos);
  }
  SUBCASE("a header claiming gigabytes over a short payload is truncation, not a huge allocation") {
    // Found by fuzz_idx: 60000x28x... with 16 bytes of file used to resize to 12 GB first.
    write_bytes(dir / "big", idx_bytes(0x08, {60000, 28, 7168}, px));
    const std::string e = error_of([&] { read_idx(dir / "big", 3); });
    CHECK(e.find("truncated IDX data") != std::string::npos);
    CHECK(e.find("found 16") != std::string::npos);
  }
  SUBCASE("dims whose product wraps 64 bits are refused, not read as empty") {
    write_bytes(dir / "wrap", idx_bytes(0x08, {1u << 20, 1u << 16, 1u << 28}, {}));
    const std::string e = error_of([&] { read_idx(dir / "wrap", 3); });
    CHECK(e.find("more than 64 GiB") != std::string::npos);
  }
  SUBCASE("element type other than unsigned byte") {
    write_bytes(dir / "t", idx_bytes(0x0D, {4, 2, 2}, px));
    const std::string e = error_of([&] { read_idx(dir / "t", 3); });
    CHECK(e.find(dir / "t") != std::string::npos);
    CHECK(e.find("expected 0x08") != std::string::npos);
    CHECK(e.find("found 0x0D") != std::string::npos);
  }
  SUBCASE("wrong dimension count") {
    write_bytes(dir / "d", idx_bytes(0x08, {16}, px));
    const std::string e = error_of([&] { read_idx(dir / "d", 3); });
    CHECK(e.find(dir / "d") != std::string::npos);
    CHECK(e.find("expected 3") != std::string::npos);
    CHECK(e.find("found 1") != std::string::npos);
  }
  SUBCASE("truncated payload, raw and gz") {
    auto b = idx_bytes(0x08, {4, 2, 2}, px);
    b.resize(b.size() - 5);
    write_bytes(dir / "tr", b);
    write_gz(dir / "tr.gz", b);
    const std::string paths[] = {dir / "tr", dir / "tr.gz"};
    for (const auto& p : paths) {
      const std::string e = error_of([&] { read_idx(p, 3); });
      CHECK(e.find(p) != std::string::npos);
      CHECK(e.find("truncated") != std::string::npos);
      CHECK(e.find("16 bytes, found 11") != std::string::npos);
    }
  }
  SUBCASE("truncated header") {
    write_bytes(dir / "h", {0, 0, 8, 3, 0, 0});
    const std::string e = error_of([&] { read_idx(dir / "h", 3); });
    CHECK(e.find(dir / "h") != std::string::npos);
    CHECK(e.find("truncated IDX header") != std::string::npos);
  }
  SUBCASE("gz stream cut short (no trailer) or damaged") {
    write_gz(dir / "z.gz", idx_bytes(0x08, {4, 2, 2}, px));
    auto z = read_bytes(dir / "z.gz");
    auto cut = z;
    cut.resize(cut.size() - 6);  // drop part of the CRC/length trailer
    write_bytes(dir / "cut.gz", cut);
    CHECK(error_of([&] { read_idx(dir / "cut.gz", 3); }).find(dir / "cut.gz") != std::string::npos);
    auto crc = z;
    crc[crc.size() - 8] ^= 0xFF;  // wrong CRC32
    write_bytes(dir / "crc.gz", crc);
    CHECK(error_of([&] { read_idx(dir / "crc.gz", 3); }).find(dir / "crc.gz") != std::string::npos);
  }
  SUBCASE("trailing bytes after the payload") {
    auto b = idx_bytes(0x08, {4, 2, 2}, px);
    b.push_back(1);
    write_bytes(dir / "x", b);
    const std::string e = error_of([&] { read_idx(dir / "x", 3); });
    CHECK(e.find(dir / "x") != std::string::npos);
    CHECK(e.find("trailing") != std::string::npos);
  }
  SUBCASE("missing file") {
    const std::string e = error_of([&] { read_idx(dir / "nope", 3); });
    CHECK(e.find(dir / "nope") != std::string::npos);
    CHECK(e.find("no such file") != std::string::npos);
  }
}

TEST_CASE("inconsistent MNIST-format directories are DataErrors naming the file") {
  ScratchDir dir("idxdir-bad");
  testing::write_idx_dir(dir.str(), 20, 5, 4, 4, false);
  const std::string lab = dir / "train-labels-idx1-ubyte";

  SUBCASE("image and label counts differ") {
    write_idx(lab, {19}, std::vector<uint8_t>(19, 1), false);
    const std::string e = error_of([&] { load_idx_dir(dir.str()); });
    CHECK(e.find(lab) != std::string::npos);
    CHECK(e.find("expected 20") != std::string::npos);
    CHECK(e.find("found 19") != std::string::npos);
  }
  SUBCASE("label out of range") {
    std::vector<uint8_t> y(20, 3);
    y[13] = 10;
    write_idx(lab, {20}, y, false);
    const std::string e = error_of([&] { load_idx_dir(dir.str()); });
    CHECK(e.find(lab) != std::string::npos);
    CHECK(e.find("index 13") != std::string::npos);
    CHECK(e.find("expected 0..9") != std::string::npos);
    CHECK(e.find("found 10") != std::string::npos);
    // the same file is fine when the spec allows more classes
    CHECK(load_idx_dir(dir.str(), 11).train.labels()[13] == 10);
  }
  SUBCASE("test images of another size") {
    write_idx(dir / "t10k-images-idx3-ubyte", {5, 4, 5}, std::vector<uint8_t>(100, 0), false);
    const std::string e = error_of([&] { load_idx_dir(dir.str()); });
    CHECK(e.find("t10k-images-idx3-ubyte") != std::string::npos);
    CHECK(e.find("expected 1x4x4") != std::string::npos);
  }
  SUBCASE("a file is missing") {
    std::filesystem::remove(dir / "t10k-labels-idx1-ubyte");
    const std::string e = error_of([&] { load_idx_dir(dir.str()); });
    CHECK(e.find("missing t10k-labels-idx1-ubyte") != std::string::npos);
  }
  SUBCASE("via load_dataset, the error is a ConfigError (exit code 2)") {
    write_idx(lab, {19}, std::vector<uint8_t>(19, 1), false);
    CHECK_THROWS_AS(load_dataset("idx:" + dir.str()), ConfigError);
  }
}
