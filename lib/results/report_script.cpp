// Starting scripts/report.py (contract in report_script.h).
#include "results/report_script.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace normlab {

bool render_report(const std::string& dir, const std::string& script) {
  const int rc = std::system(fmt::format("/usr/bin/python3 '{}' '{}' >/dev/null 2>&1", script, dir).c_str());
  if (rc == 0) return true;
  spdlog::warn("{}: {} failed (exit {}); the report or figures it draws are missing", dir, script, rc);
  return false;
}

}  // namespace normlab
