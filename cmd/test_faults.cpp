// Test-only switches, from the environment (list in test_faults.h).
#include "cmd/test_faults.h"

#include <cstdlib>

#include "nn/norm_layers.h"

namespace normlab::cmd {

TrainFaults test_faults() {
  TrainFaults f;
  if (const char* v = std::getenv("NORMLAB_FAULT_BN_TRAIN_USES_RUNNING"); v && *v == '1')
    f.bn_train_uses_running = true;
  if (const char* v = std::getenv("NORMLAB_FAULT_THROW_NORM"); v && *v) f.throw_norm = parse_norm_kind(v);
  return f;
}

bool fault_trust_parts() {
  const char* v = std::getenv("NORMLAB_FAULT_TRUST_PARTS");
  return v && *v == '1';
}

}  // namespace normlab::cmd
