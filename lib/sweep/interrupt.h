#pragma once
// Cooperative stop of a sweep. SIGINT, SIGTERM and SIGUSR1 (Slurm's early
// warning before a time limit or preemption, sent with --signal=B:USR1@T and
// forwarded by the batch script) only record the signal. The scheduler then
// starts no new run, and the trainer abandons the runs in flight at their next
// step (train/trainer.h TrainHooks::stop): nothing of them is written, so a
// rerun of the same command resumes with them.
#include <atomic>

namespace normlab {

// Installs the handlers (idempotent). Call before any worker thread starts.
void install_stop_handlers();

// The signal that asked to stop, or 0. The flag the trainer polls.
const std::atomic<int>& stop_requested();

// For tests: as if signal `sig` had arrived (0 clears it).
void request_stop(int sig);

}  // namespace normlab
