// Sweep directory: per-run part files, sealed with a footer naming the run and
// a checksum, their ledger of checksums, and their assembly (layout in
// sweep_dir.h). A part is
//   HEADER\n ROWS #part run_id=ID numerics=NUM sha256=HEX\n,   HEX = sha256(HEADER\n ROWS)
// and is trusted only when HEADER is today's, ID is the file's run and every
// row's, NUM is this build's numerics_id() (tensor/numerics.h), HEX matches,
// and ledger/parts.sha256 records sha256(whole file).
#include "sweep/sweep_dir.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <sstream>

#include "core/errors.h"
#include "core/read_file.h"
#include "core/sha256.h"
#include "results/csv_table.h"
#include "results/run_files.h"
#include "tensor/numerics.h"

namespace normlab {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFooter = "#part run_id=";
constexpr const char* kNumerics = " numerics=";
constexpr const char* kSum = " sha256=";
constexpr const char* kLedger = "/ledger/parts.sha256";

struct Kind {
  const char* name;
  std::string (*header)();
};
// Written in this order; the runs part, last, marks the run complete.
const Kind kKinds[] = {{"curves", curves_header},
                       {"activations", activations_header},
                       {"batchstats", batchstats_header},
                       {"runs", runs_header}};

std::string sealed(const std::string& run_id, const std::string& content) {
  return content + kFooter + run_id + kNumerics + numerics_id() + kSum + sha256_hex(content) + "\n";
}

// The footer's numerics, between " numerics=" and " sha256=" (the footer already names run_id);
// the problem when it has none or another build's.
// The footer's numerics token ("" when it records none: an older normlab's part).
std::string footer_numerics(const std::string& text, std::size_t after_id) {
  const std::size_t sum = text.find(kSum, after_id);
  if (text.compare(after_id, std::strlen(kNumerics), kNumerics) != 0 || sum == std::string::npos) return "";
  const std::size_t from = after_id + std::strlen(kNumerics);
  return text.substr(from, sum - from);
}

bool same_numerics(const std::string& text, std::size_t after_id, std::string* problem) {
  const std::size_t sum = text.find(kSum, after_id);
  if (text.compare(after_id, std::strlen(kNumerics), kNumerics) != 0 || sum == std::string::npos) {
    *problem = "its footer records no numerics (written by an older normlab): the arithmetic it was computed with "
               "is not known";
    return false;
  }
  const std::size_t from = after_id + std::strlen(kNumerics);
  if (const std::string had = text.substr(from, sum - from); had != numerics_id()) {
    *problem = fmt::format("it was computed with other numerics ({}; this build: {}), whose bytes differ",
                           had, numerics_id());
    return false;
  }
  return true;
}

// The rows of a sealed part of run_id with this header; the problem otherwise.
std::optional<std::string> unseal(const std::string& text, const std::string& run_id, const std::string& header,
                                  bool checksum, bool this_build, std::string* problem) {
  const std::size_t foot = text.size() < 2 ? std::string::npos : text.rfind('\n', text.size() - 2);
  const std::size_t start = foot == std::string::npos ? 0 : foot + 1;
  const std::string named = kFooter + run_id;
  if (text.empty() || text.back() != '\n' || text.compare(start, 7, "#part s") == 0 ||
      text.compare(start, 13, kFooter) != 0) {
    *problem = text.compare(start, 7, "#part s") == 0
                   ? "its footer does not name its run (written by an older normlab)"
                   : "no checksum line at its end (cut short, overwritten, or written by an older normlab)";
    return std::nullopt;
  }
  const std::size_t after_id = start + named.size();
  if (text.compare(start, named.size(), named) != 0 ||
      (text.compare(after_id, std::strlen(kNumerics), kNumerics) != 0 &&
       text.compare(after_id, std::strlen(kSum), kSum) != 0)) {
    *problem = fmt::format("its footer names another run, not {} (a part copied or renamed from another run)", run_id);
    return std::nullopt;
  }
  if (this_build && !same_numerics(text, after_id, problem)) return std::nullopt;
  const std::size_t hex = text.find(kSum, after_id) + std::strlen(kSum);
  if (text.size() - hex != 64 + 1) {
    *problem = "its checksum line is malformed";
    return std::nullopt;
  }
  const std::string content = text.substr(0, start);
  if (checksum && sha256_hex(content) != text.substr(hex, 64)) {
    *problem = "its checksum does not match its content";
    return std::nullopt;
  }
  if (content.compare(0, header.size(), header) != 0) {
    *problem = "its columns are not the current layout";
    return std::nullopt;
  }
  return content.substr(header.size());
}

// Every row of a part names its run in the run_id column.
std::string foreign_row(const std::string& header, const std::string& rows, const std::string& run_id,
                        const std::string& path) {
  try {
    const CsvTable t = parse_csv(header + rows, path);
    for (std::size_t i = 0; i < t.rows.size(); ++i)
      if (t.at(i, "run_id") != run_id)
        return fmt::format("data row {} has run_id {}, not {}", i + 1, t.at(i, "run_id"), run_id);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// "HEX  parts/ID.KIND.csv" lines; malformed (torn) lines are skipped.
std::map<std::string, std::string> read_ledger(const std::string& path) {
  std::map<std::string, std::string> sums;
  std::error_code ec;
  if (!fs::exists(path, ec)) return sums;
  std::istringstream in(read_file_capped(path));
  std::string line;
  while (std::getline(in, line))
    if (line.size() > 66 && line.compare(64, 2, "  ") == 0 &&
        line.find_first_not_of("0123456789abcdef") == 64)
      sums[line.substr(66)] = line.substr(0, 64);
  return sums;
}

}  // namespace

struct SweepDir::Ledger {
  std::mutex mu;
  std::map<std::string, std::string> sums;  // "parts/ID.KIND.csv" -> hex
};

namespace {
// The folder's own subfolders and its ledger are written in place (files renamed into
// them, lines appended), so a symlink there would send a run's results, or its
// checksums, into another folder or file: refused before anything is written.
void refuse_store_symlinks(const std::string& dir) {
  for (const char* own : {"/parts", "/ledger", kLedger}) {
    std::error_code ec;
    if (fs::symlink_status(dir + own, ec).type() == fs::file_type::symlink)
      throw ConfigError(fmt::format("{}{} is a symlink; a results folder's own files and folders are written in "
                                    "place, so they must be its own (remove the link, or give another --out)",
                                    dir, own));
  }
}
}  // namespace

SweepDir::SweepDir(std::string dir, PartChecks checks, PartNumerics numerics)
    : dir_(std::move(dir)), checks_(checks), numerics_(numerics), ledger_(std::make_shared<Ledger>()) {
  refuse_store_symlinks(dir_);
  fs::create_directories(parts_dir());
  reload_ledger();
}

const std::vector<const char*>& SweepDir::part_kinds() {
  static const std::vector<const char*> kinds = [] {
    std::vector<const char*> k;
    for (const auto& kind : kKinds) k.push_back(kind.name);
    return k;
  }();
  return kinds;
}

void SweepDir::reload_ledger() const {
  auto sums = read_ledger(dir_ + kLedger);
  std::lock_guard<std::mutex> lock(ledger_->mu);
  ledger_->sums = std::move(sums);
}

void SweepDir::record(const std::string& file) const {
  const std::string rel = fs::path(file).lexically_relative(dir_).generic_string();
  const std::string hex = sha256_file(file);
  const std::string line = hex + "  " + rel + "\n";
  fs::create_directories(dir_ + "/ledger");
  // O_NOFOLLOW: a link put there after the folder was opened is not written through either.
  const int fd = ::open((dir_ + kLedger).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  const bool ok = fd >= 0 && ::write(fd, line.data(), line.size()) == ssize_t(line.size());
  const int err = errno;
  if (fd >= 0) ::close(fd);
  if (!ok) throw std::runtime_error(fmt::format("cannot write {}{}: {}", dir_, kLedger, std::strerror(err)));
  std::lock_guard<std::mutex> lock(ledger_->mu);
  ledger_->sums[rel] = hex;
}

std::string SweepDir::part(const std::string& run_id, const char* kind) const {
  return fmt::format("{}/{}.{}.csv", parts_dir(), run_id, kind);
}

std::optional<std::string> SweepDir::read_part(const std::string& run_id, const char* kind,
                                               std::string* problem) const {
  const std::string p = part(run_id, kind);
  const auto k = std::find_if(std::begin(kKinds), std::end(kKinds), [&](const Kind& x) { return x.name == std::string(kind); });
  if (k == std::end(kKinds)) {
    *problem = fmt::format("'{}' is not a kind of part", kind);
    return std::nullopt;
  }
  if (!fs::exists(p)) {
    *problem = "missing";
    return std::nullopt;
  }
  std::string text;
  try {
    text = read_file_capped(p);
  } catch (const ConfigError& e) {  // over the file cap (or unreadable): not a part this sweep wrote
    *problem = e.what();
    return std::nullopt;
  }
  const bool sums = checks_ == PartChecks::full;
  std::optional<std::string> body =
      unseal(text, run_id, k->header(), sums, numerics_ == PartNumerics::this_build, problem);
  if (body) *problem = foreign_row(k->header(), *body, run_id, p);
  if (problem->empty() && sums) {
    std::lock_guard<std::mutex> lock(ledger_->mu);
    const auto it = ledger_->sums.find(fmt::format("parts/{}.{}.csv", run_id, kind));
    if (it == ledger_->sums.end())
      *problem = fmt::format("no checksum for it in {}{}", dir_, kLedger);
    else if (it->second != sha256_hex(text))
      *problem = fmt::format("its bytes do not match the checksum {}{} records", dir_, kLedger);
  }
  if (!problem->empty()) return std::nullopt;
  return body;
}

std::optional<std::vector<std::string>> SweepDir::read_run(const std::string& run_id,
                                                           RunParts* check) const {
  *check = RunParts{};
  if (!fs::exists(part(run_id, "runs"))) return std::nullopt;
  std::vector<std::string> rows;
  for (const auto& k : kKinds) {
    std::string problem;
    std::optional<std::string> body = read_part(run_id, k.name, &problem);
    if (!body) {
      check->state = RunParts::damaged;
      check->problem = fmt::format("{}: {}", part(run_id, k.name), problem);
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
  const auto put = [&](const char* kind, const std::string& content) {
    write_file_atomic(part(id, kind), sealed(id, content));
    record(part(id, kind));
  };
  put("curves", curves_header() + curves_rows(id, r));
  put("activations", activations_header() + activations_rows(id, r));
  put("batchstats", batchstats_header() + batchstats_rows(id, r));
  put("runs", runs_header() + runs_row(cfg, r));
}

void SweepDir::copy_run_from(const SweepDir& from, const std::string& run_id) const {
  for (const auto& k : kKinds) {
    write_file_atomic(part(run_id, k.name), read_file_capped(from.part(run_id, k.name)));
    record(part(run_id, k.name));
  }
}

std::vector<std::pair<std::string, std::string>> SweepDir::assembled(const std::vector<RunConfig>& runs,
                                                                    int* present) const {
  std::string rs = runs_header(), cs = curves_header(), as = activations_header(), bs = batchstats_header();
  *present = 0;
  reload_ledger();  // other shards may have completed runs since
  for (const auto& cfg : runs) {
    RunParts c;
    const auto rows = read_run(cfg.run_id(), &c);
    if (!rows) continue;
    ++*present;
    cs += (*rows)[0];
    as += (*rows)[1];
    bs += (*rows)[2];
    rs += (*rows)[3];
  }
  // Written in this order: runs.csv last.
  return {{"batchstats.csv", bs}, {"curves.csv", cs}, {"activations.csv", as}, {"runs.csv", rs}};
}

int SweepDir::assemble(const std::vector<RunConfig>& runs) const {
  int present = 0;
  // A table that already holds these rows (a resume that ran nothing) is left as it is.
  for (const auto& [name, text] : assembled(runs, &present)) write_file_if_changed(dir_ + "/" + name, text);
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

std::string SweepDir::numerics_of(const std::string& run_id) const {
  const std::string text = read_file_capped(part(run_id, "runs"));
  const std::size_t foot = text.size() < 2 ? std::string::npos : text.rfind('\n', text.size() - 2);
  const std::size_t start = foot == std::string::npos ? 0 : foot + 1;
  const std::string named = kFooter + run_id;
  if (text.compare(start, named.size(), named) != 0) return "";
  return footer_numerics(text, start + named.size());
}

std::string mixed_numerics(const SweepDir& dir, const std::vector<std::string>& run_ids) {
  std::map<std::string, int> count;
  for (const auto& id : run_ids)
    if (fs::exists(dir.part(id, "runs"))) ++count[dir.numerics_of(id)];
  if (count.size() < 2) return "";
  std::vector<std::string> each;
  for (const auto& [n, c] : count) each.push_back(fmt::format("{} ({} runs)", n.empty() ? "not recorded" : n, c));
  return fmt::format("{}/parts: runs computed with different numerics: {}; one comparison would mix two "
                     "arithmetics (run the sweep again with this build: it recomputes the runs of other numerics)",
                     dir.path(), fmt::join(each, ", "));
}

}  // namespace normlab
