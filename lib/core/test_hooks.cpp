// Scans environ for the test hooks' names (test_hooks.h).
#include "core/test_hooks.h"

#include <algorithm>
#include <cstring>

extern char** environ;

namespace normlab {

std::vector<std::string> active_test_hooks() {
  std::vector<std::string> hooks;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq + 1 == kv.size()) continue;  // unset or empty: not active
    const std::string name = kv.substr(0, eq);
    if (name.rfind("NORMLAB_FAULT_", 0) == 0 || name == "NORMLAB_BENCH_SLOWDOWN") hooks.push_back(kv);
  }
  std::sort(hooks.begin(), hooks.end());
  return hooks;
}

}  // namespace normlab
