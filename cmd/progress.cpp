// Live progress display (format in progress.h).
//   rate = (steps_now - steps_then) / (now - then), over a window of the last 10 s
//   steps_now = steps of finished runs + the current step of every run in flight
//   left = sum over runs in flight of (total - step) + runs not started * mean total
//   eta = left / rate
#include "cmd/progress.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/errors.h"

namespace normlab::cmd {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kBarTick = std::chrono::milliseconds(250);
constexpr double kWindowSeconds = 10;

// 42s, 5m03s, 2h07m; "-" when unknown.
std::string duration(double s) {
  if (s < 0) return "-";
  const long t = std::lround(s);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
}

// 340, 1.2k, 3.4M; "-" when unknown.
std::string rate(double r) {
  if (r < 0) return "-";
  if (r < 1000) return fmt::format("{:.0f}", r);
  if (r < 1e6) return fmt::format("{:.1f}k", r / 1e3);
  return fmt::format("{:.1f}M", r / 1e6);
}

}  // namespace

int ProgressView::log_seconds() {
  const char* v = std::getenv("NORMLAB_PROGRESS_SECONDS");
  if (!v || !*v) return 30;
  char* end = nullptr;
  const long s = std::strtol(v, &end, 10);
  if (*end != '\0' || s < 1 || s > 86400)
    throw ConfigError(fmt::format("NORMLAB_PROGRESS_SECONDS='{}' (allowed: whole seconds, 1 to 86400)", v));
  return int(s);
}

ProgressView::ProgressView(Mode mode, const SweepLive& live, std::vector<std::string> labels)
    : mode_(mode), live_(live), labels_(std::move(labels)) {
  const auto interval = mode_ == Mode::bar ? std::chrono::duration_cast<std::chrono::milliseconds>(kBarTick)
                                           : std::chrono::milliseconds(1000L * log_seconds());
  thread_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(mu_);
    if (mode_ == Mode::bar) draw_locked();  // at once, before any run has stepped
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      rates_ = measure_locked();
      if (mode_ == Mode::bar)
        draw_locked();
      else
        log_locked();
    }
  });
}

ProgressView::~ProgressView() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  if (mode_ == Mode::bar) {
    draw_locked();  // the final counts
    std::fputs("\n", stderr);
  }
}

void ProgressView::update(const SweepProgress& p) {
  std::lock_guard<std::mutex> lock(mu_);
  counts_ = p;
  if (mode_ == Mode::bar) draw_locked();
}

ProgressView::Rates ProgressView::measure_locked() {
  long steps = live_.finished_steps.load(), left = 0, totals = live_.finished_total.load();
  int known = live_.finished_runs.load();
  for (const auto& slot : live_.slots) {
    if (slot.run.load() < 0) continue;
    const long step = slot.progress.step.load(), total = slot.progress.total.load();
    steps += step;
    if (total > 0) {
      left += std::max(0L, total - step);
      totals += total;
      ++known;
    }
  }
  const auto now = Clock::now();
  window_.push_back({now, steps});
  while (window_.size() > 2 &&
         std::chrono::duration<double>(now - window_[1].t).count() >= kWindowSeconds)
    window_.pop_front();
  Rates r;
  const double dt = std::chrono::duration<double>(now - window_.front().t).count();
  if (dt > 0.2) r.steps_per_s = std::max(0.0, double(steps - window_.front().steps) / dt);
  if (known > 0) left += long(live_.not_started.load()) * (totals / known);
  if (r.steps_per_s > 0 && known > 0) r.eta_s = double(left) / r.steps_per_s;
  return r;
}

// One line: the whole sweep, then the first run in flight.
void ProgressView::draw_locked() {
  SweepProgress p = counts_;  // done, failed, diverged: from the last report
  p.total = std::max(p.total, live_.total.load());
  p.skipped = std::max(p.skipped, live_.skipped.load());
  p.running = 0;
  const SweepLive::Slot* first = nullptr;
  for (const auto& slot : live_.slots)
    if (slot.run.load() >= 0) {
      ++p.running;
      if (!first) first = &slot;
    }
  const int width = 24, have = p.skipped + p.done;
  const bool one_run = p.total == 1 && first;
  const long step = first ? first->progress.step.load() : 0, total = first ? first->progress.total.load() : 0;
  const double frac = one_run ? (total > 0 ? double(step) / double(total) : 0)
                              : (p.total > 0 ? double(have) / p.total : 1);
  const int fill = std::clamp(int(frac * width), 0, width);
  std::string line = fmt::format("\r\033[K[{}{}] ", std::string(std::size_t(fill), '#'),
                                 std::string(std::size_t(width - fill), '.'));
  if (one_run && total == 0)
    line += "setting up";
  else if (one_run)
    line += fmt::format("step {}/{}  loss {:.4g}", step, total, first->progress.loss.load());
  else
    line += fmt::format("{}/{}  running {}  failed {}  diverged {}", have, p.total, p.running, p.failed,
                        p.diverged);
  line += fmt::format("  {} steps/s  eta {}", rate(rates_.steps_per_s), duration(rates_.eta_s));
  if (first && !one_run) {
    const long g = first->run.load();
    if (g >= 0 && std::size_t(g) < labels_.size())
      line += total == 0 ? fmt::format("  | {} setting up", labels_[std::size_t(g)])
                         : fmt::format("  | {} {}/{} loss {:.4g}", labels_[std::size_t(g)], step, total,
                                       first->progress.loss.load());
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressView::log_locked() {
  for (const auto& slot : live_.slots) {
    const long g = slot.run.load();
    if (g < 0 || std::size_t(g) >= labels_.size() || slot.progress.total.load() == 0) continue;
    spdlog::info("{}: step {}/{}, loss {:.4g}, {} steps/s, eta {}", labels_[std::size_t(g)],
                 slot.progress.step.load(), slot.progress.total.load(), slot.progress.loss.load(),
                 rate(rates_.steps_per_s), duration(rates_.eta_s));
  }
}

}  // namespace normlab::cmd
