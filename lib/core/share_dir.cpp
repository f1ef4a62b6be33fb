// Resolution order of the companion-file root; see share_dir.h.
// NORMLAB_SOURCE_DIR is the source folder CMake recorded at configure time.
#include "core/share_dir.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>

#include "core/errors.h"

#ifndef NORMLAB_SOURCE_DIR
#define NORMLAB_SOURCE_DIR ""
#endif

namespace normlab {
namespace {

namespace fs = std::filesystem;

bool holds_experiments(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p / "experiments", ec);
}

fs::path binary_dir() {
  std::error_code ec;
  const fs::path exe = fs::canonical("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

std::string installed_root() {
  const fs::path bin = binary_dir();
  if (bin.empty()) return "";
  const fs::path root = (bin.parent_path() / "share" / "normlab").lexically_normal();
  return holds_experiments(root) ? root.string() : "";
}

}  // namespace

std::string share_dir() {
  if (const char* env = std::getenv(kShareDirEnv); env && *env) return env;
  if (auto d = installed_root(); !d.empty()) return d;
  const fs::path src = NORMLAB_SOURCE_DIR;
  if (!src.empty() && holds_experiments(src)) return src.string();
  return "";
}

std::string share_file(std::string_view rel) {
  const std::string root = share_dir();
  if (root.empty())
    throw ConfigError(fmt::format("cannot find normlab's {}: looked in ${}, <binary>/../share/normlab and the "
                                  "source folder {}; set {} to the folder holding experiments/ and scripts/",
                                  rel, kShareDirEnv, NORMLAB_SOURCE_DIR, kShareDirEnv));
  const fs::path p = fs::path(root) / rel;
  std::error_code ec;
  if (!fs::exists(p, ec))
    throw ConfigError(fmt::format("cannot find normlab's {}: {} does not exist (the share folder is {}{}); set {} "
                                  "to the folder holding experiments/ and scripts/",
                                  rel, p.string(), root, std::getenv(kShareDirEnv) ? ", from $" + std::string(kShareDirEnv) : "",
                                  kShareDirEnv));
  return p.string();
}

std::string share_relative(const std::string& p) {
  const std::string root = share_dir();
  if (root.empty()) return p;
  std::error_code ec;
  const fs::path abs = fs::weakly_canonical(p, ec);
  const fs::path base = fs::weakly_canonical(root, ec);
  if (ec) return p;
  const fs::path rel = abs.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") return p;
  return rel.string();
}

}  // namespace normlab
