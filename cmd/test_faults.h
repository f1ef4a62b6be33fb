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
#include "train/trainer.h"

namespace normlab::cmd {

TrainFaults test_faults();
bool fault_trust_parts();

}  // namespace normlab::cmd
