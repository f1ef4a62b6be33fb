#pragma once
// Live progress of a sweep, or of one `train` run, drawn by a thread of its
// own: it shows at once and moves within runs, not only when a run ends.
//   On a terminal, one line redrawn every 0.25 s:
//     [#####...................] 3/16  running 2  failed 0  diverged 1  1.2k steps/s  eta 1m05s  | norm=batch lr=0.1 seed=1 340/1000 loss 0.412
//   (for one run: "[#####....] step 340/1000  loss 0.412  1.2k steps/s  eta 12s").
//   Elsewhere (CI set, a log file, Slurm): every NORMLAB_PROGRESS_SECONDS
//   (default 30), one timestamped log line per run in flight, naming its config:
//     "norm=batch lr=0.1 seed=1: step 340/1000, loss 0.412, 1.2k steps/s, sweep eta 1m05s"
// steps/s is measured over the last 10 s; the ETA divides the steps left (runs
// in flight, plus runs not started at the mean step total seen) by it.
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sweep/scheduler.h"

namespace normlab::cmd {

class ProgressView {
 public:
  enum class Mode { bar, lines };
  // labels[g] names grid run g (the keys that vary). REQUIRES: live outlives the view.
  ProgressView(Mode mode, const SweepLive& live, std::vector<std::string> labels);
  ~ProgressView();  // stops the thread; a bar's line is ended
  ProgressView(const ProgressView&) = delete;
  ProgressView& operator=(const ProgressView&) = delete;

  // The run counts, from the scheduler's report.
  void update(const SweepProgress& p);
  // Writes something that must stay on screen (a log line) without tearing the bar.
  template <class F>
  void above(F&& write) {
    std::lock_guard<std::mutex> lock(mu_);
    if (mode_ == Mode::bar) std::fputs("\r\033[K", stderr);
    write();
    if (mode_ == Mode::bar) draw_locked();
  }

  // "Off a terminal" interval: NORMLAB_PROGRESS_SECONDS, else 30. Throws
  // ConfigError naming the variable when it is not a whole number >= 1.
  static int log_seconds();

 private:
  struct Sample {
    std::chrono::steady_clock::time_point t;
    long steps;
  };
  struct Rates {
    double steps_per_s = -1, eta_s = -1;  // -1: not known yet
  };
  Rates measure_locked();
  void draw_locked();
  void log_locked();

  const Mode mode_;
  const SweepLive& live_;
  const std::vector<std::string> labels_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  SweepProgress counts_;
  std::deque<Sample> window_;
  Rates rates_;
  std::thread thread_;
};

}  // namespace normlab::cmd
