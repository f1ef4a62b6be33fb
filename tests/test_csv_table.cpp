// CsvTable field conversion (results/csv_table.h): a field that is not a number
// is a ConfigError naming the file, the data row, the column and the text, never
// a bare std::invalid_argument from deep inside a claims evaluation.
#include <doctest/doctest.h>

#include <cmath>

#include "core/errors.h"
#include "results/csv_table.h"

using namespace normlab;

namespace {
std::string num_error(const CsvTable& t, std::size_t row, const std::string& col, bool integer) {
  try {
    if (integer) t.integer(row, col);
    else t.num(row, col);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("csv table: numbers, empty fields and text that is not a number") {
  const CsvTable t = parse_csv("run_id,seed,acc\na,3,0.25\nb,,1e-3\nc,3.5,0.5x\nd,x,1e999\n", "runs.csv");
  CHECK(t.num(0, "acc") == 0.25);
  CHECK(t.integer(0, "seed") == 3);
  CHECK(t.num(1, "acc") == 0.001);
  CHECK(std::isnan(t.num(1, "seed")));
  CHECK(num_error(t, 1, "seed", true) == "runs.csv: data row 2, column 'seed': '' is not an integer");
  CHECK(num_error(t, 2, "acc", false) == "runs.csv: data row 3, column 'acc': '0.5x' is not a number");
  CHECK(num_error(t, 2, "seed", true) == "runs.csv: data row 3, column 'seed': '3.5' is not an integer");
  CHECK(t.num(2, "seed") == 3.5);
  CHECK(num_error(t, 3, "seed", false) == "runs.csv: data row 4, column 'seed': 'x' is not a number");
  CHECK(num_error(t, 3, "acc", false) == "runs.csv: data row 4, column 'acc': '1e999' is not a number");
}
