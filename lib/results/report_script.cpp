// Starting scripts/report.py (contract in report_script.h).
#include "results/report_script.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "core/errors.h"
#include "core/share_dir.h"
#include "core/shell_quote.h"

namespace normlab {

bool render_report(const std::string& dir, const std::string& given) {
  std::string script = given;
  if (script.empty()) {
    try {
      script = share_file("scripts/report.py");
    } catch (const ConfigError& e) {
      spdlog::warn("{}: no report: {}", dir, e.what());
      return false;
    }
  }
  // --html (the self-contained page) and --if-changed (nothing drawn when the report's stamp
  // says its code and files are unchanged) are report.py's; another script gets DIR alone.
  const std::string html = given.empty() ? " --html --if-changed" : "";
  const int rc = std::system(
      fmt::format("/usr/bin/python3 {}{} {} >/dev/null 2>&1", shell_quote(script), html, shell_quote(dir)).c_str());
  if (rc == 0) return true;
  spdlog::warn("{}: {} failed (exit {}); the report or figures it draws are missing", dir, script, rc);
  return false;
}

}  // namespace normlab
