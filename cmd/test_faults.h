#pragma once
// Test-only switches of the normlab binary. They are read from the environment
// here, and nowhere in the library, which takes them as TrainFaults:
//   NORMLAB_FAULT_BN_TRAIN_USES_RUNNING=1  batch norm normalizes with its running
//                                          averages in training (the claims
//                                          baseline test shows it is caught)
//   NORMLAB_FAULT_THROW_NORM=NORM          runs with this norm throw at step 3
//                                          (an error during a run is data)
//   NORMLAB_FAULT_TRUST_PARTS=1            `sweep` trusts parts without their
//                                          checksums (the randomized store test
//                                          shows it is caught)
//   NORMLAB_BENCH_SLOWDOWN=CASE=PERCENT    `bench` stretches each call of the
//                                          layer or norm case CASE by PERCENT
//                                          (the speed gate's detection test).
//                                          CASE=PERCENT@first: only in the first
//                                          timing, not when the gate times a
//                                          flagged case again (a transient).
//                                          Compiled only with -DNORMLAB_TEST_HOOKS=ON
//                                          (scripts/setup.sh's test build); other
//                                          builds warn and ignore it.
#include <string>

#include "train/trainer.h"

namespace normlab::cmd {

TrainFaults test_faults();
bool fault_trust_parts();

struct BenchSlowdown {
  std::string case_name;
  double fraction = 0;  // 0: none
  bool first_timing_only = false;  // "@first": not when the gate times a flagged case again
};
// Throws ConfigError for a malformed value (test builds).
BenchSlowdown bench_slowdown();

}  // namespace normlab::cmd
