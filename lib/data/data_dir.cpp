// Resolution order for the data directory; see data_dir.h.
#include "data/data_dir.h"

#include <cstdlib>
#include <filesystem>

#include "core/share_dir.h"

namespace normlab {
namespace {

namespace fs = std::filesystem;

bool is_checkout(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p / "CMakeLists.txt", ec) && fs::is_directory(p / "lib" / "data", ec);
}

std::string search_up(fs::path p) {
  std::error_code ec;
  p = fs::weakly_canonical(p, ec);
  if (ec) return "";
  for (int depth = 0; depth < 64 && !p.empty(); ++depth) {
    if (is_checkout(p)) return (p / "data").string();
    if (p == p.parent_path()) break;
    p = p.parent_path();
  }
  return "";
}

// $XDG_DATA_HOME/normlab, else ~/.local/share/normlab ("" when neither is set).
std::string user_data_dir() {
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) return (fs::path(xdg) / "normlab").string();
  if (const char* home = std::getenv("HOME"); home && *home)
    return (fs::path(home) / ".local" / "share" / "normlab").string();
  return "";
}

}  // namespace

std::string data_dir() {
  if (const char* env = std::getenv("NORMLAB_DATA"); env && *env) return env;
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (!ec)
    if (auto d = search_up(cwd); !d.empty()) return d;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    if (auto d = search_up(exe.parent_path()); !d.empty()) return d;
  // An installed binary (<bin>/../share/normlab, as `cmake --install` and the .deb lay it
  // out): the user's data folder, even when the checkout it was built from still exists.
  const bool installed = !ec && fs::is_directory(exe.parent_path().parent_path() / "share" / "normlab");
  if (installed)
    if (auto d = user_data_dir(); !d.empty()) return d;
  // A build tree: __FILE__ is <checkout>/lib/data/data_dir.cpp when CMake passes absolute paths.
  const fs::path src = fs::path(__FILE__);
  if (src.is_absolute()) {
    const fs::path checkout = src.parent_path().parent_path().parent_path();
    if (is_checkout(checkout)) return (checkout / "data").string();
  }
  // Companion files found (NORMLAB_SHARE_DIR) but no checkout: the user's data folder too.
  if (!share_dir().empty())
    if (auto d = user_data_dir(); !d.empty()) return d;
  return (ec ? fs::path("data") : cwd / "data").string();
}

}  // namespace normlab
