// Output path checks (contract in out_path.h): an early, plain refusal instead
// of a raw filesystem_error once the work is done.
#include "core/temp_name.h"
#include "core/out_path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include "core/errors.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void refuse(const std::string& option, const std::string& path, const std::string& reason) {
  throw ConfigError(fmt::format("{}: cannot write to {}: {}", option, path, reason));
}

}  // namespace

void check_out_spelling(const std::string& option, const std::string& path) {
  if (path.empty()) throw ConfigError(fmt::format("{}: empty path (give a file or directory name)", option));
  if (path.size() >= PATH_MAX)
    refuse(option, path.substr(0, 60) + "...",
           fmt::format("File name too long ({} characters; the limit is {})", path.size(), PATH_MAX - 1));
  for (const auto& part : fs::path(path))
    if (part.native().size() > NAME_MAX)
      refuse(option, path, fmt::format("File name too long (a name of {} characters; the limit is {} per "
                                       "name)", part.native().size(), NAME_MAX));
}

namespace {

// A file can be created in dir: the one test that holds for root too.
void probe(const std::string& option, const std::string& dir, const std::string& shown) {
  const std::string p = temp_path_for(dir + "/.normlab-write-test");
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) refuse(option, shown, std::strerror(errno));
  ::close(fd);
  ::unlink(p.c_str());
}

}  // namespace

void prepare_out_dir(const std::string& option, const std::string& dir) {
  check_out_spelling(option, dir);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    refuse(option, dir, "it is a file, not a directory");
  fs::create_directories(dir, ec);
  if (ec) refuse(option, dir, ec.message());
  probe(option, dir, dir);
}

void check_out_file(const std::string& option, const std::string& file, bool create_parent) {
  check_out_spelling(option, file);
  std::error_code ec;
  if (fs::is_directory(file, ec)) refuse(option, file, "it is a directory, not a file");
  const fs::path parent = fs::path(file).parent_path();
  const std::string dir = parent.empty() ? "." : parent.string();
  if (!fs::exists(dir, ec)) {
    if (!create_parent) {
      // ENOTDIR when a part of the path is a regular file, ENOENT when it is missing.
      struct stat st;
      const bool notdir = ::stat(dir.c_str(), &st) != 0 && errno == ENOTDIR;
      refuse(option, file, notdir ? std::string(std::strerror(ENOTDIR))
                                  : fmt::format("the directory {} does not exist (create it first)", dir));
    }
    prepare_out_dir(option, dir);
    return;
  }
  if (!fs::is_directory(dir, ec)) refuse(option, file, fmt::format("{} is a file, not a directory", dir));
  probe(option, dir, file);
}

}  // namespace normlab
