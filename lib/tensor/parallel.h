#pragma once
// A small fixed pool of worker threads for data-parallel loops inside a run.
//
// Determinism: work is cut into a fixed number of tasks that does NOT depend
// on the thread count, and each task always computes the same thing; threads
// only decide who runs a task. So results are identical for any --threads.
// (BLAS's own threading splits products by thread count and changes the last
// bits, which is why BLAS runs single-threaded inside training.)
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace normlab {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // threads - 1 workers; the caller is the last
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  int threads() const { return int(workers_.size()) + 1; }

  // Runs fn(ctx, t) for t in [0, tasks), returns when all are done. No allocation.
  void run(int tasks, void (*fn)(void*, int), void* ctx);

 private:
  void work();
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  void (*fn_)(void*, int) = nullptr;
  void* ctx_ = nullptr;
  int tasks_ = 0, next_ = 0, running_ = 0;
  long generation_ = 0;
  bool stop_ = false;
};

// The pool of the run on this thread, or null (serial).
ThreadPool* current_pool();
void set_current_pool(ThreadPool* pool);

// for t in [0, tasks): f(t), on the current pool if there is one.
template <class F>
void parallel_for(int tasks, F& f) {
  ThreadPool* pool = current_pool();
  if (!pool || pool->threads() == 1 || tasks < 2) {
    for (int t = 0; t < tasks; ++t) f(t);
    return;
  }
  pool->run(tasks, [](void* ctx, int t) { (*static_cast<F*>(ctx))(t); }, &f);
}

}  // namespace normlab
