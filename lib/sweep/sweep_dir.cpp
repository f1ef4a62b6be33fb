// Sweep directory: per-run part files, sealed with a checksum footer, and
// their assembly (layout in sweep_dir.h). A part is
//   HEADER\n ROWS #part sha256=HEX\n,   HEX = sha256(HEADER\n ROWS)
// and is trusted only when HEADER is today's and HEX matches.
#include "sweep/sweep_dir.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/errors.h"
#include "core/sha256.h"
#include "results/csv_table.h"
#include "results/run_files.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFooter = "#part sha256=";

struct Kind {
  const char* name;
  std::string (*header)();
};
// Written in this order; the runs part, last, marks the run complete.
const Kind kKinds[] = {{"curves", curves_header},
                       {"activations", activations_header},
                       {"batchstats", batchstats_header},
                       {"runs", runs_header}};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string sealed(const std::string& content) {
  return content + kFooter + sha256_hex(content) + "\n";
}

// The rows of a sealed part with this header; the problem otherwise.
std::optional<std::string> unseal(const std::string& text, const std::string& header,
                                  std::string* problem) {
  const std::size_t foot = text.size() < 2 ? std::string::npos : text.rfind('\n', text.size() - 2);
  const std::size_t start = foot == std::string::npos ? 0 : foot + 1;
  if (text.empty() || text.back() != '\n' || text.compare(start, 13, kFooter) != 0 ||
      text.size() - start != 13 + 64 + 1) {
    *problem = "no checksum line at its end (cut short, overwritten, or written by an older normlab)";
    return std::nullopt;
  }
  const std::string content = text.substr(0, start);
  if (sha256_hex(content) != text.substr(start + 13, 64)) {
    *problem = "its checksum does not match its content";
    return std::nullopt;
  }
  if (content.compare(0, header.size(), header) != 0) {
    *problem = "its columns are not the current layout";
    return std::nullopt;
  }
  return content.substr(header.size());
}

}  // namespace

SweepDir::SweepDir(std::string dir) : dir_(std::move(dir)) { fs::create_directories(parts_dir()); }

std::string SweepDir::part(const std::string& run_id, const char* kind) const {
  return fmt::format("{}/{}.{}.csv", parts_dir(), run_id, kind);
}

std::optional<std::vector<std::string>> SweepDir::read_run(const std::string& run_id,
                                                           RunParts* check) const {
  *check = RunParts{};
  if (!fs::exists(part(run_id, "runs"))) return std::nullopt;
  std::vector<std::string> rows;
  for (const auto& k : kKinds) {
    const std::string p = part(run_id, k.name);
    std::string problem;
    std::optional<std::string> body;
    if (!fs::exists(p))
      problem = "missing";
    else
      body = unseal(slurp(p), k.header(), &problem);
    if (!body) {
      check->state = RunParts::damaged;
      check->problem = fmt::format("{}: {}", p, problem);
      return std::nullopt;
    }
    rows.push_back(std::move(*body));
  }
  try {
    const CsvTable t = parse_csv(runs_header() + rows.back(), part(run_id, "runs"));
    if (t.rows.size() != 1 || t.at(0, "run_id") != run_id)
      throw ConfigError(fmt::format("{}: expected one row of run {}", t.path, run_id));
    check->status = t.at(0, "status");
  } catch (const ConfigError& e) {
    check->state = RunParts::damaged;
    check->problem = e.what();
    return std::nullopt;
  }
  check->state = RunParts::whole;
  return rows;
}

RunParts SweepDir::check_run(const std::string& run_id) const {
  RunParts c;
  read_run(run_id, &c);
  return c;
}

std::optional<std::string> SweepDir::completed_status(const std::string& run_id) const {
  const RunParts c = check_run(run_id);
  if (c.state != RunParts::whole) return std::nullopt;
  return c.status;
}

void SweepDir::write_run(const RunConfig& cfg, const RunResult& r) const {
  const std::string id = cfg.run_id();
  write_file_atomic(part(id, "curves"), sealed(curves_header() + curves_rows(id, r)));
  write_file_atomic(part(id, "activations"), sealed(activations_header() + activations_rows(id, r)));
  write_file_atomic(part(id, "batchstats"), sealed(batchstats_header() + batchstats_rows(id, r)));
  write_file_atomic(part(id, "runs"), sealed(runs_header() + runs_row(cfg, r)));
}

void SweepDir::copy_run_from(const SweepDir& from, const std::string& run_id) const {
  for (const auto& k : kKinds) write_file_atomic(part(run_id, k.name), slurp(from.part(run_id, k.name)));
}

int SweepDir::assemble(const std::vector<RunConfig>& runs) const {
  std::string rs = runs_header(), cs = curves_header(), as = activations_header(), bs = batchstats_header();
  int present = 0;
  for (const auto& cfg : runs) {
    RunParts c;
    const auto rows = read_run(cfg.run_id(), &c);
    if (!rows) continue;
    ++present;
    cs += (*rows)[0];
    as += (*rows)[1];
    bs += (*rows)[2];
    rs += (*rows)[3];
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
