// Fuzz target: the CSV reader (lib/results/csv_table.h): read_csv on a file
// with arbitrary contents, then column lookup and match_run_ids as the sweep
// status code uses them. ConfigError is the expected answer to a bad file.
#include <cstddef>
#include <cstdint>

#include "core/errors.h"
#include "fuzz_util.h"
#include "results/csv_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string path = normlab::fuzz::scratch_file(data, size, "csv");
  try {
    const normlab::CsvTable t = normlab::read_csv(path);
    for (const auto& r : t.rows)
      if (r.size() != t.header.size()) __builtin_trap();
    normlab::match_run_ids(t, {"a", "b"});
  } catch (const normlab::ConfigError&) {
  }
  return 0;
}
