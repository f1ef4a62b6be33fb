// EpochSampler: each epoch is a permutation, a pure function of (seed, epoch),
// uniform, with the last partial batch dropped by default.
#include <doctest/doctest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "data/sampler.h"
#include "core/errors.h"

using namespace normlab;

namespace {
std::vector<uint32_t> epoch_order(EpochSampler& s, int epoch, std::vector<int>* sizes = nullptr) {
  s.start_epoch(epoch);
  std::vector<uint32_t> out;
  const uint32_t* idx;
  int n;
  while (s.next(idx, n)) {
    out.insert(out.end(), idx, idx + n);
    if (sizes) sizes->push_back(n);
  }
  return out;
}
}  // namespace

TEST_CASE("without drop_last an epoch visits every sample exactly once") {
  EpochSampler s(103, 10, 42, /*drop_last=*/false);
  CHECK(s.batches_per_epoch() == 11);
  std::vector<int> sizes;
  auto order = epoch_order(s, 0, &sizes);
  CHECK(sizes.size() == 11);
  CHECK(sizes.back() == 3);
  std::vector<uint32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint32_t> iota(103);
  std::iota(iota.begin(), iota.end(), 0u);
  CHECK(sorted == iota);
  CHECK(order != iota);  // actually shuffled
}

TEST_CASE("drop_last (the default) drops the partial batch") {
  EpochSampler s(103, 10, 42);
  CHECK(s.batches_per_epoch() == 10);
  std::vector<int> sizes;
  auto order = epoch_order(s, 5, &sizes);
  CHECK(sizes == std::vector<int>(10, 10));
  std::sort(order.begin(), order.end());
  CHECK(std::adjacent_find(order.begin(), order.end()) == order.end());  // no repeats
  CHECK(order.back() < 103);
  // A batch of 1 never occurs: 101 samples with batch 50 give two batches of 50.
  EpochSampler t(101, 50, 1);
  sizes.clear();
  epoch_order(t, 0, &sizes);
  CHECK(sizes == std::vector<int>{50, 50});
}

TEST_CASE("the order is a pure function of (seed, epoch)") {
  EpochSampler a(500, 32, 7), b(500, 32, 7), c(500, 32, 8);
  const auto a3 = epoch_order(a, 3);
  epoch_order(b, 0);
  epoch_order(b, 1);
  CHECK(epoch_order(b, 3) == a3);           // history does not matter
  CHECK(epoch_order(a, 4) != a3);           // epochs differ
  CHECK(epoch_order(c, 3) != a3);           // seeds differ
  EpochSampler fresh(500, 32, 7);
  CHECK(epoch_order(fresh, 3) == a3);
}

TEST_CASE("the shuffle is uniform: every element reaches every position") {
  // Sattolo's variant or an off-by-one would never leave an element in place.
  const int n = 8, epochs = 4000;
  EpochSampler s(n, 1, 123, false);
  std::vector<int> pos0(n, 0);
  for (int e = 0; e < epochs; ++e) {
    s.start_epoch(e);
    const auto& o = s.order();
    for (int i = 0; i < n; ++i)
      if (o[i] == 0) ++pos0[i];
  }
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(pos0[i] > 400);  // expected 500, sd ~ 21
    CHECK(pos0[i] < 600);
  }
}

TEST_CASE("impossible batch settings are ConfigErrors") {
  CHECK_THROWS_AS(EpochSampler(10, 0, 1), ConfigError);
  CHECK_THROWS_AS(EpochSampler(10, 11, 1), ConfigError);  // drop_last would give no batch
  EpochSampler ok(10, 11, 1, false);
  CHECK(ok.batches_per_epoch() == 1);
}
