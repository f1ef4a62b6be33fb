// Input path validators of subcommands.h: stat(2) and its errno, so a symlink
// loop or a permission problem is named as such.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "cmd/subcommands.h"

namespace normlab::cmd {

std::string input_path_problem(const std::string& path, bool want_dir) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return (errno == ENOENT ? std::string(want_dir ? "Directory does not exist" : "File does not exist")
                            : std::string("cannot use it: ") + std::strerror(errno)) + ": " + path;
  if (want_dir && !S_ISDIR(st.st_mode)) return "Directory is actually a file: " + path;
  if (!want_dir && S_ISDIR(st.st_mode)) return "File is actually a directory: " + path;
  return "";
}

}  // namespace normlab::cmd
