// `normlab data fetch|verify|info`: get the named datasets, check their
// checksums, and show what is present. Tables go to stdout, progress to the
// log (stderr).
//
//   normlab data fetch mnist|mnist-10k|fashion-mnist|all
//   normlab data verify                 exit 1 if any file's sha256 differs from the pinned one
//   normlab data info [SPEC] [--time]   without SPEC: every dataset present;
//                                       with SPEC (e.g. idx:DIR, blobs:n=500): load it and describe it
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "cmd/subcommands.h"
#include "core/out_path.h"
#include "data/catalog.h"
#include "data/data_dir.h"
#include "data/dataset.h"
#include "data/fetch.h"
#include "data/idx.h"
#include "data/idx_dataset.h"
#include "core/errors.h"

namespace normlab::cmd {
namespace {

struct DataOptions {
  std::string fetch_name;
  std::string info_spec;
  bool time = false;
};

void run_fetch(const DataOptions& o) {
  const std::string dir = data_dir();
  spdlog::info("data directory: {}", dir);
  if (o.fetch_name != "mnist" && o.fetch_name != "mnist-10k" && o.fetch_name != "fashion-mnist" &&
      o.fetch_name != "all")
    throw normlab::ConfigError("data fetch: unknown dataset '" + o.fetch_name +
                               "'; expected mnist, mnist-10k, fashion-mnist or all");
  // Before any download: a directory that cannot take the files is bad input.
  const char* env = std::getenv("NORMLAB_DATA");
  prepare_out_dir(env && *env ? "NORMLAB_DATA" : "data directory", dir);
  if (o.fetch_name == "mnist" || o.fetch_name == "all") {
    const FetchReport r = fetch_mnist(dir);
    std::printf("mnist\t%s\t%s\n", r.dir.c_str(), r.source.c_str());
  }
  if (o.fetch_name == "mnist-10k") {
    const FetchReport r = fetch_mnist_subset(dir);
    std::printf("mnist\t%s\t%s\n", r.dir.c_str(), r.source.c_str());
  }
  if (o.fetch_name == "fashion-mnist" || o.fetch_name == "all") {
    const FetchReport r = fetch_fashion_mnist(dir);
    std::printf("fashion-mnist\t%s\t%s\n", r.dir.c_str(), r.source.c_str());
  }
}

void run_verify() {
  const std::string dir = data_dir();
  const auto entries = present_datasets(dir);
  if (entries.empty()) {
    spdlog::warn("no datasets present in {} or {}; nothing to verify", dir, kFashionSystemDir);
    return;
  }
  int bad = 0, checked = 0;
  for (const auto& e : entries) {
    if (e.pins.empty()) {
      std::string sum;
      hash_idx_dir(e.dir, &sum);
      std::printf("%-22s UNPINNED  %s (no pinned checksums; dataset sha256 %s)\n", e.label.c_str(), e.dir.c_str(),
                  sum.c_str());
      continue;
    }
    for (const auto& c : check_files(e.dir, e.pins)) {
      ++checked;
      if (c.ok()) {
        std::printf("%-22s OK        %s\n", e.label.c_str(), c.path.c_str());
      } else {
        ++bad;
        std::printf("%-22s MISMATCH  %s expected %s found %s\n", e.label.c_str(), c.path.c_str(), c.expected.c_str(),
                    c.found.empty() ? "(missing)" : c.found.c_str());
      }
    }
  }
  if (bad > 0)
    throw std::runtime_error("data verify: " + std::to_string(bad) + " of " + std::to_string(checked) +
                             " files do not match their pinned sha256");
  spdlog::info("data verify: all {} pinned files match", checked);
}

void describe(const Dataset& d) {
  std::printf("name      %s\n", d.name.c_str());
  std::printf("source    %s\n", d.source.c_str());
  std::printf("subset    %s\n", d.subset ? "YES (not the full dataset)" : "no");
  if (!d.location.empty()) std::printf("location  %s\n", d.location.c_str());
  std::printf("train     %d\nval       %d\ntest      %d\n", d.train.count(), d.val.count(), d.test.count());
  std::printf("shape     %s\nclasses   %d\n", d.shape.str().c_str(), d.classes);
  std::printf("checksum  sha256:%s\n", d.checksum.c_str());
  for (std::size_t c = 0; c < d.mean.size() && c < 8; ++c)
    std::printf("standardize channel %zu: mean %.6f std %.6f\n", c, d.mean[c], d.stdev[c]);
  std::printf("load      %.3f s\n", d.load_seconds);
}

void run_info(const DataOptions& o) {
  if (!o.info_spec.empty()) {
    describe(*load_dataset(o.info_spec));
    return;
  }
  const std::string dir = data_dir();
  std::printf("data directory: %s\n", dir.c_str());
  const auto entries = present_datasets(dir);
  if (entries.empty()) {
    std::printf("no datasets present; run `normlab data fetch all`\n");
    return;
  }
  std::printf("%-22s %7s %7s  %-8s %-64s  %s\n", "dataset", "train", "test", "subset", "sha256", "source");
  for (const auto& e : entries) {
    const auto files = idx_dir_files(e.dir);
    const auto ntrain = read_idx_dims(files[0], 3)[0];
    const auto ntest = read_idx_dims(files[2], 3)[0];
    std::string sum;
    hash_idx_dir(e.dir, &sum);
    std::printf("%-22s %7u %7u  %-8s %-64s  %s [%s]\n", e.label.c_str(), ntrain, ntest, e.subset ? "SUBSET" : "full",
                sum.c_str(), e.source.c_str(), e.dir.c_str());
  }
  if (o.time) {
    for (const auto& e : entries) {
      const auto t0 = std::chrono::steady_clock::now();
      Dataset d = load_idx_dir(e.dir, 10);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("load %-22s %d+%d samples, decompress+validate+hash: %.3f s\n", e.label.c_str(), d.train.count(),
                  d.test.count(), s);
    }
  }
}

}  // namespace

void setup_data(CLI::App& app) {
  auto opt = std::make_shared<DataOptions>();
  auto* data = app.add_subcommand("data", "Fetch, verify and list datasets (under $NORMLAB_DATA, default <checkout>/data)");
  data->require_subcommand(1);

  auto* fetch = data->add_subcommand("fetch", "Download or install a named dataset (mnist, mnist-10k, fashion-mnist, all)");
  fetch->add_option("name", opt->fetch_name,
                    "mnist (full, else the 10k subset) | mnist-10k (only the subset the committed baselines use) | "
                    "fashion-mnist | all")->required();
  fetch->callback([opt] { run_fetch(*opt); });

  auto* verify = data->add_subcommand("verify", "Recompute the sha256 of every present dataset file; exit 1 on mismatch");
  verify->callback([] { run_verify(); });

  auto* info = data->add_subcommand("info", "List present datasets with counts, sources and checksums, "
                                            "or load and describe one dataset spec");
  info->add_option("spec", opt->info_spec, "dataset spec to load and describe, e.g. idx:DIR or blobs:n=500");
  info->add_flag("--time", opt->time, "also time a full load (decompress, validate, hash) of each dataset");
  info->callback([opt] { run_info(*opt); });
}

}  // namespace normlab::cmd
