#pragma once
// Learning-rate schedules, as a pure function of the step (0-based):
//   constant  lr
//   step      lr * gamma^floor(t / step_size)
//   cosine    lr * (1 + cos(pi * t / T)) / 2          (T = total steps)
// plus an optional linear warmup over the first `warmup` steps, multiplying
// by (t+1)/warmup.
#include <string>

namespace normlab {

struct ScheduleConfig {
  std::string kind = "constant";  // constant | step | cosine
  long step_size = 1000;
  double gamma = 0.1;
  long warmup = 0;
};

void validate(const ScheduleConfig& s);  // throws ConfigError
double lr_at(const ScheduleConfig& s, double base_lr, long step, long total_steps);

}  // namespace normlab
