// Signal handlers that only store the signal number (async-signal-safe: a
// lock-free atomic store); everything else happens on the sweep's threads.
#include "sweep/interrupt.h"

#include <csignal>

namespace normlab {

namespace {
std::atomic<int> g_stop{0};
static_assert(std::atomic<int>::is_always_lock_free);
extern "C" void on_stop_signal(int sig) { g_stop.store(sig); }
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGUSR1}) sigaction(sig, &sa, nullptr);
}

const std::atomic<int>& stop_requested() { return g_stop; }

void request_stop(int sig) { g_stop.store(sig); }

}  // namespace normlab
