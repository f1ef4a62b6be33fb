// Capped file reading (contract in read_file.h): fstat first, then read(2) in
// 1 MiB chunks, counting, so nothing beyond cap + one chunk is ever held.
#include "core/read_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "core/errors.h"
#include "core/limits.h"

namespace normlab {

std::uint64_t max_file_bytes() { return max_file_mb() * 1024ull * 1024ull; }

void refuse_file_size(const std::string& path, double bytes, bool at_least) {
  const double mib = 1024.0 * 1024.0;
  const double need = std::ceil(bytes / mib);
  throw ConfigError(fmt::format(
      "{}: {} MiB, larger than the limit of {} MiB for a file read as input (is it the file you meant?); {}",
      path, at_least ? fmt::format("more than {:.0f}", need - 1) : fmt::format("{:.0f}", need), max_file_mb(),
      at_least ? fmt::format("it does not end (a device or pipe?), or set {} above {:.0f} to raise the limit",
                             kMaxFileEnv, need - 1)
               : fmt::format("set {}={:.0f} to raise the limit", kMaxFileEnv, need)));
}

std::string read_file_capped(const std::string& path) {
  const std::uint64_t cap = max_file_bytes();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw ConfigError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw ConfigError(fmt::format("{}: is a directory, not a file", path));
  const bool regular = S_ISREG(st.st_mode);
  if (regular && std::uint64_t(st.st_size) > cap) refuse_file_size(path, double(st.st_size), false);
  std::string out;
  if (regular) out.reserve(std::size_t(st.st_size));
  constexpr std::size_t kChunk = 1 << 20;
  for (;;) {
    const std::size_t have = out.size();
    out.resize(have + kChunk);
    const ssize_t r = ::read(fd, out.data() + have, kChunk);
    if (r < 0) {
      if (errno == EINTR) {
        out.resize(have);
        continue;
      }
      throw ConfigError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    }
    out.resize(have + std::size_t(r));
    if (r == 0) break;
    if (out.size() > cap) refuse_file_size(path, double(out.size()), true);
  }
  return out;
}

}  // namespace normlab
