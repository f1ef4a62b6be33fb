// Fuzz target: the experiment-file parser (lib/sweep/experiment.h) on
// arbitrary TOML text, without and with the quick profile, and run_labels on
// whatever loads. ConfigError is the expected answer to a bad file.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/errors.h"
#include "sweep/experiment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* profile : {"", "quick"}) {
    try {
      normlab::ExperimentOptions opt;
      opt.profile = profile;
      // A grid of a million runs is legal but takes minutes here: a false hang.
      opt.max_runs = 2000;
      const normlab::Experiment ex = normlab::parse_experiment(text, "fuzz.toml", opt);
      if (ex.runs.size() != ex.specs.size() || ex.runs.empty()) __builtin_trap();
      if (normlab::run_labels(ex).size() != ex.runs.size()) __builtin_trap();
    } catch (const normlab::ConfigError&) {
    }
  }
  return 0;
}
