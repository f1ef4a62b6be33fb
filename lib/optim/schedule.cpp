// Learning-rate schedules (formulas in schedule.h).
#include "optim/schedule.h"

#include <fmt/format.h>

#include <cmath>

#include "core/errors.h"

namespace normlab {

void validate(const ScheduleConfig& s) {
  if (s.kind != "constant" && s.kind != "step" && s.kind != "cosine")
    throw ConfigError(
        fmt::format("schedule: unknown value '{}' (allowed: constant, step, cosine)", s.kind));
  if (s.step_size < 1) throw ConfigError("lr-step-size: must be >= 1");
  if (!(s.gamma > 0)) throw ConfigError("lr-gamma: must be > 0");
  if (s.warmup < 0) throw ConfigError("warmup: must be >= 0");
}

double lr_at(const ScheduleConfig& s, double base_lr, long step, long total_steps) {
  double lr = base_lr;
  if (s.kind == "step") {
    lr *= std::pow(s.gamma, double(step / s.step_size));
  } else if (s.kind == "cosine" && total_steps > 0) {
    lr *= 0.5 * (1.0 + std::cos(3.14159265358979323846 * double(step) / double(total_steps)));
  }
  if (s.warmup > 0 && step < s.warmup) lr *= double(step + 1) / double(s.warmup);
  return lr;
}

}  // namespace normlab
