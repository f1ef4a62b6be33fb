// Timing harness: steady_clock around each call; median, min and max of the per-call times.
#include "bench/harness.h"

#include <algorithm>
#include <chrono>

namespace normlab {

Timing time_it(const std::function<void()>& fn, const TimingOptions& opt) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < opt.warmup; ++i) fn();
  std::vector<double> t;
  t.reserve(std::size_t(opt.max_repeats));
  double total = 0;
  while (int(t.size()) < opt.max_repeats &&
         (int(t.size()) < opt.min_repeats || total < opt.min_total_s)) {
    const auto t0 = Clock::now();
    fn();
    if (opt.slowdown > 0) {  // test hook: stretch this call by the fraction
      const double want = std::chrono::duration<double>(Clock::now() - t0).count() * (1 + opt.slowdown);
      while (std::chrono::duration<double>(Clock::now() - t0).count() < want) {
      }
    }
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    t.push_back(dt);
    total += dt;
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), int(t.size()), t.back()};
}

TimingOptions options_for_case(const TimingOptions& opt, const std::string& name) {
  TimingOptions o = opt;
  if (opt.slow_case != name) o.slowdown = 0;
  return o;
}

}  // namespace normlab
