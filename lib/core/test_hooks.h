#pragma once
// Test-only switches read from the environment (NORMLAB_FAULT_*, NORMLAB_BENCH_SLOWDOWN):
// they make results deliberately wrong or slow so that tests can show the checks catch it.
// Whatever is set is reported: each manifest's build.reproducibility names it, and every
// command warns at start, so results made under a hook are never mistaken for evidence.
#include <string>
#include <vector>

namespace normlab {

// "NAME=VALUE" for each test hook set (non-empty) in this process's environment, sorted.
std::vector<std::string> active_test_hooks();

}  // namespace normlab
