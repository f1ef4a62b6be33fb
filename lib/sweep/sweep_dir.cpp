// Sweep directory: per-run part files and their assembly (layout in sweep_dir.h).
#include "sweep/sweep_dir.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "results/csv_table.h"
#include "results/run_files.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
// Everything after the header line.
std::string body(const std::string& text) {
  const auto nl = text.find('\n');
  return nl == std::string::npos ? "" : text.substr(nl + 1);
}
}  // namespace

SweepDir::SweepDir(std::string dir) : dir_(std::move(dir)) { fs::create_directories(parts_dir()); }

std::string SweepDir::part(const std::string& run_id, const char* kind) const {
  return fmt::format("{}/{}.{}.csv", parts_dir(), run_id, kind);
}

std::optional<std::string> SweepDir::completed_status(const std::string& run_id) const {
  const std::string p = part(run_id, "runs");
  if (!fs::exists(p)) return std::nullopt;
  try {
    const CsvTable t = read_csv(p);
    return t.rows.empty() ? std::string("unknown") : t.at(0, "status");
  } catch (const ConfigError&) {
    return std::string("unknown");
  }
}

void SweepDir::write_run(const RunConfig& cfg, const RunResult& r) const {
  const std::string id = cfg.run_id();
  write_file_atomic(part(id, "curves"), curves_header() + curves_rows(id, r));
  write_file_atomic(part(id, "activations"), activations_header() + activations_rows(id, r));
  write_file_atomic(part(id, "batchstats"), batchstats_header() + batchstats_rows(id, r));
  write_file_atomic(part(id, "runs"), runs_header() + runs_row(cfg, r));
}

int SweepDir::assemble(const std::vector<RunConfig>& runs) const {
  std::string rs = runs_header(), cs = curves_header(), as = activations_header(), bs = batchstats_header();
  int present = 0;
  for (const auto& cfg : runs) {
    const std::string id = cfg.run_id();
    if (!fs::exists(part(id, "runs"))) continue;
    ++present;
    rs += body(slurp(part(id, "runs")));
    cs += body(slurp(part(id, "curves")));
    as += body(slurp(part(id, "activations")));
    if (fs::exists(part(id, "batchstats"))) bs += body(slurp(part(id, "batchstats")));
  }
  write_file_atomic(dir_ + "/batchstats.csv", bs);
  write_file_atomic(dir_ + "/curves.csv", cs);
  write_file_atomic(dir_ + "/activations.csv", as);
  write_file_atomic(dir_ + "/runs.csv", rs);
  return present;
}

std::string SweepDir::archive_parts() const {
  for (int n = 1;; ++n) {
    const std::string dst = fmt::format("{}/parts.old-{}", dir_, n);
    if (!fs::exists(dst)) {
      fs::rename(parts_dir(), dst);
      fs::create_directories(parts_dir());
      return dst;
    }
  }
}

}  // namespace normlab
