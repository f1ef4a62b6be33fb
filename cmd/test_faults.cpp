// Test-only switches, from the environment (list in test_faults.h).
#include "cmd/test_faults.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <string_view>

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
  const std::string_view raw = v, first_suffix = "@first";
  const bool first_only = raw.size() > first_suffix.size() && raw.ends_with(first_suffix);
  const std::string s(first_only ? raw.substr(0, raw.size() - first_suffix.size()) : raw);
  const auto eq = s.rfind('=');
  const std::string allowed =
      "CASE=PERCENT or CASE=PERCENT@first, e.g. norm/bn-fwd/128x1024=20, PERCENT > 0 and <= 1000";
  if (eq == std::string::npos || eq == 0)
    throw ConfigError(fmt::format("NORMLAB_BENCH_SLOWDOWN: '{}' (allowed: {})", s, allowed));
  const double pct = parse_finite(s.substr(eq + 1), "NORMLAB_BENCH_SLOWDOWN", allowed);
  if (!(pct > 0 && pct <= 1000)) throw ConfigError(fmt::format("NORMLAB_BENCH_SLOWDOWN: '{}' (allowed: {})", s, allowed));
  spdlog::warn("test hook NORMLAB_BENCH_SLOWDOWN: {} made {}% slower{}", s.substr(0, eq), pct,
               first_only ? " in the first timing only (not when a flagged case is timed again)" : "");
  return {s.substr(0, eq), pct / 100, first_only};
#else
  spdlog::warn("NORMLAB_BENCH_SLOWDOWN is ignored: this build has no test hooks (configure with -DNORMLAB_TEST_HOOKS=ON)");
  return {};
#endif
}

}  // namespace normlab::cmd
