// Test-only switches, from the environment (list in test_faults.h).
#include "cmd/test_faults.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "core/errors.h"
#include "core/parse_number.h"

#include "nn/norm_layers.h"

namespace normlab::cmd {

TrainFaults test_faults() {
  TrainFaults f;
  if (const char* v = std::getenv("NORMLAB_FAULT_BN_TRAIN_USES_RUNNING"); v && *v == '1')
    f.bn_train_uses_running = true;
  if (const char* v = std::getenv("NORMLAB_FAULT_THROW_NORM"); v && *v) f.throw_norm = parse_norm_kind(v);
  return f;
}

bool fault_trust_parts() {
  const char* v = std::getenv("NORMLAB_FAULT_TRUST_PARTS");
  return v && *v == '1';
}

BenchSlowdown bench_slowdown() {
  const char* v = std::getenv("NORMLAB_BENCH_SLOWDOWN");
  if (!v || !*v) return {};
#ifdef NORMLAB_TEST_HOOKS
  const std::string s = v;
  const auto eq = s.rfind('=');
  const std::string allowed = "CASE=PERCENT, e.g. norm/bn-fwd/128x1024=20, PERCENT > 0 and <= 1000";
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(fmt::format("NORMLAB_BENCH_SLOWDOWN: '{}' (allowed: {})", s, allowed));
  const double pct = parse_finite(s.substr(eq + 1), "NORMLAB_BENCH_SLOWDOWN", allowed);
  if (!(pct > 0 && pct <= 1000)) throw ConfigError(fmt::format("NORMLAB_BENCH_SLOWDOWN: '{}' (allowed: {})", s, allowed));
  spdlog::warn("test hook NORMLAB_BENCH_SLOWDOWN: {} made {}% slower", s.substr(0, eq), pct);
  return {s.substr(0, eq), pct / 100};
#else
  spdlog::warn("NORMLAB_BENCH_SLOWDOWN is ignored: this build has no test hooks (configure with -DNORMLAB_TEST_HOOKS=ON)");
  return {};
#endif
}

}  // namespace normlab::cmd
