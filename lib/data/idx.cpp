// IDX format (LeCun et al., the MNIST database):
//   bytes 0-1  zero
//   byte  2    element type: 0x08 unsigned byte (the only type read here),
//              0x09 signed byte, 0x0B short, 0x0C int, 0x0D float, 0x0E double
//   byte  3    number of dimensions d
//   then d big-endian uint32 sizes, then prod(sizes) elements, row-major.
// MNIST images: magic 0x00000803, dims (n, 28, 28); labels: 0x00000801, dims (n).
// Files may be gzipped; zlib's gz* functions read gzip and raw files alike
// (raw is passed through "transparently"), so there is one code path.
#include "core/read_file.h"
#include "core/temp_name.h"
#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/errors.h"

namespace normlab {
namespace {

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

GzPtr open_gz(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw DataError(path + ": expected an IDX file, found " +
                    (std::filesystem::exists(path, ec) ? "something that is not a regular file" : "no such file"));
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw DataError(path + ": cannot open: " + std::strerror(errno));
  gzbuffer(f, 1 << 18);
  return GzPtr(f);
}

// Reads up to n bytes; returns how many were read. Corrupt gzip -> DataError.
std::size_t read_some(gzFile f, const std::string& path, uint8_t* dst, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const unsigned chunk = unsigned(std::min<std::size_t>(n - got, 1u << 30));
    const int r = gzread(f, dst + got, chunk);
    if (r < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      throw DataError(path + ": corrupt gzip stream after " + std::to_string(got) + " bytes of data: " + msg);
    }
    if (r == 0) break;
    got += std::size_t(r);
  }
  // A truncated gzip stream reads short and sets Z_BUF_ERROR; report it as truncation below.
  return got;
}

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08X", v);
  return b;
}

std::string hex8(uint8_t v) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02X", v);
  return b;
}

std::vector<uint32_t> read_header(gzFile f, const std::string& path, int expect_ndims) {
  uint8_t m[4];
  const std::size_t got = read_some(f, path, m, 4);
  const uint32_t expected_magic = 0x00000800u | uint32_t(expect_ndims);
  if (got < 4)
    throw DataError(path + ": truncated IDX header: expected 4 magic bytes (" + hex32(expected_magic) +
                    "), found " + std::to_string(got) + " bytes");
  const uint32_t magic = uint32_t(m[0]) << 24 | uint32_t(m[1]) << 16 | uint32_t(m[2]) << 8 | m[3];
  if (m[0] != 0 || m[1] != 0)
    throw DataError(path + ": bad IDX magic number: expected " + hex32(expected_magic) + ", found " + hex32(magic) +
                    " (not an IDX file)");
  if (m[2] != 0x08)
    throw DataError(path + ": unsupported IDX element type: expected 0x08 (unsigned byte), found " +
                    hex8(m[2]) + " (magic " + hex32(magic) + ")");
  if (m[3] != expect_ndims)
    throw DataError(path + ": wrong IDX dimension count: expected " + std::to_string(expect_ndims) + " (magic " +
                    hex32(expected_magic) + "), found " + std::to_string(m[3]) + " (magic " + hex32(magic) + ")");
  std::vector<uint8_t> raw(4 * std::size_t(expect_ndims));
  const std::size_t gd = read_some(f, path, raw.data(), raw.size());
  if (gd < raw.size())
    throw DataError(path + ": truncated IDX header: expected " + std::to_string(raw.size()) +
                    " bytes of dimensions, found " + std::to_string(gd));
  std::vector<uint32_t> dims(expect_ndims);
  for (int i = 0; i < expect_ndims; ++i)
    dims[i] = uint32_t(raw[4 * i]) << 24 | uint32_t(raw[4 * i + 1]) << 16 | uint32_t(raw[4 * i + 2]) << 8 | raw[4 * i + 3];
  return dims;
}

std::string dims_str(const std::vector<uint32_t>& d) {
  std::string s;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(d[i]);
  }
  return s;
}

}  // namespace

std::vector<uint32_t> read_idx_dims(const std::string& path, int expect_ndims) {
  GzPtr f = open_gz(path);
  return read_header(f.get(), path, expect_ndims);
}

IdxArray read_idx(const std::string& path, int expect_ndims) {
  GzPtr f = open_gz(path);
  IdxArray a;
  a.dims = read_header(f.get(), path, expect_ndims);
  std::size_t total = 1;
  for (uint32_t d : a.dims) {
    // Checked before multiplying: three 32-bit dims can wrap 64 bits, e.g.
    // 2^20 x 2^16 x 2^28 to 0, which then "matched" an empty payload.
    if (d != 0 && total > (std::size_t(1) << 36) / d)
      throw DataError(path + ": IDX dims " + dims_str(a.dims) + " describe more than 64 GiB; file is corrupt");
    total *= d;
  }
  // Grow with the bytes actually read: a corrupt header that claims gigabytes
  // then fails as truncated instead of allocating them first. Capacity doubles,
  // capped at the total, so a real file ends with no spare capacity. The input
  // file limit (core/read_file.h) is applied to the bytes that arrive, so a
  // short file with a huge header is "truncated", not "too large".
  constexpr std::size_t kChunk = std::size_t(1) << 20;
  const std::uint64_t cap = max_file_bytes();
  std::size_t got = 0;
  while (got < total) {
    if (got >= cap) refuse_file_size(path, double(got) + 1, true);
    const std::size_t want = std::min(total - got, kChunk);
    if (a.data.capacity() < got + want) a.data.reserve(std::min(total, std::max(2 * a.data.capacity(), got + want)));
    a.data.resize(got + want);
    const std::size_t r = read_some(f.get(), path, a.data.data() + got, want);
    got += r;
    if (r < want) break;
  }
  if (got < total)
    throw DataError(path + ": truncated IDX data: header says " + dims_str(a.dims) + " = " + std::to_string(total) +
                    " bytes, found " + std::to_string(got));
  uint8_t extra[64];
  const std::size_t more = read_some(f.get(), path, extra, sizeof extra);
  if (more > 0)
    throw DataError(path + ": trailing data after IDX payload: header says " + dims_str(a.dims) + " = " +
                    std::to_string(total) + " bytes, found more");
  int err = 0;
  gzerror(f.get(), &err);
  if (err != Z_OK)  // e.g. Z_BUF_ERROR: the gzip trailer (CRC, length) is cut off
    throw DataError(path + ": truncated or corrupt gzip stream after the IDX payload: " +
                    gzerror(f.get(), &err));
  return a;
}

void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
               bool gzip) {
  std::size_t total = 1;
  for (uint32_t d : dims) total *= d;
  if (dims.empty() || dims.size() > 255 || total != data.size())
    throw DataError(path + ": write_idx: dims " + dims_str(dims) + " do not match " + std::to_string(data.size()) +
                    " bytes of data");
  std::vector<uint8_t> header{0, 0, 0x08, uint8_t(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) header.push_back(uint8_t(d >> s));
  const std::string tmp = temp_path_for(path);
  bool ok;
  errno = 0;
  if (gzip) {
    gzFile f = gzopen(tmp.c_str(), "wb6");
    if (!f) throw DataError(tmp + ": cannot create: " + std::strerror(errno));
    ok = gzwrite(f, header.data(), unsigned(header.size())) == int(header.size());
    std::size_t off = 0;
    while (ok && off < data.size()) {
      const unsigned chunk = unsigned(std::min<std::size_t>(data.size() - off, 1u << 30));
      ok = gzwrite(f, data.data() + off, chunk) == int(chunk);
      off += chunk;
    }
    ok = (gzclose(f) == Z_OK) && ok;
  } else {
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw DataError(tmp + ": cannot create: " + std::strerror(errno));
    ok = std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
         std::fwrite(data.data(), 1, data.size(), f) == data.size();
    ok = (std::fclose(f) == 0) && ok;
  }
  if (!ok) {  // the OS's reason (disk full, file too large), and no half file left
    const int err = errno;
    std::error_code rm;
    std::filesystem::remove(tmp, rm);
    throw DataError("cannot write " + path + ": " + std::strerror(err ? err : EIO));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw DataError(path + ": cannot rename from " + tmp + ": " + ec.message());
}

std::string find_idx_file(const std::string& dir, const std::string& name) {
  std::error_code ec;
  const auto base = std::filesystem::path(dir) / name;
  if (std::filesystem::exists(base.string() + ".gz", ec)) return base.string() + ".gz";
  if (std::filesystem::exists(base, ec)) return base.string();
  return "";
}

}  // namespace normlab
