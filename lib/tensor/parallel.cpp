// Thread pool: workers sleep on a condition variable; a call publishes a task
// range and a generation number, everyone (caller included) takes tasks from a
// shared counter, and the caller waits until the last task finishes.
#include "tensor/parallel.h"

namespace normlab {

namespace {
thread_local ThreadPool* g_pool = nullptr;
}

ThreadPool* current_pool() { return g_pool; }
void set_current_pool(ThreadPool* pool) { g_pool = pool; }

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run(int tasks, void (*fn)(void*, int), void* ctx) {
  std::unique_lock<std::mutex> lock(mu_);
  fn_ = fn;
  ctx_ = ctx;
  tasks_ = tasks;
  next_ = 0;
  running_ = 0;
  ++generation_;
  start_.notify_all();
  while (next_ < tasks_) {
    const int t = next_++;
    ++running_;
    lock.unlock();
    fn(ctx, t);
    lock.lock();
    --running_;
  }
  done_.wait(lock, [this] { return running_ == 0; });
}

void ThreadPool::work() {
  long seen = 0;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    start_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    while (next_ < tasks_) {
      const int t = next_++;
      ++running_;
      lock.unlock();
      fn_(ctx_, t);
      lock.lock();
      if (--running_ == 0 && next_ >= tasks_) done_.notify_all();
    }
  }
}

}  // namespace normlab
