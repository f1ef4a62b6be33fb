// Batch-statistic error (train/batch_stats.h) against its closed forms for iid
// Gaussian values: a batch of B samples with S values each per channel pools
// M = B*S values, so
//   mean_err = sqrt(E[(m - mu)^2] / var)   = 1 / sqrt(M)
//   var_err  = sqrt(E[(v - var)^2]) / var  = sqrt(2M - 1) / M   (v divides by M)
// Sampled without replacement from a large finite population, drawn many times:
// asserted within 4% (mean) and 5% (variance) of the closed form.
#include <doctest/doctest.h>

#include <cmath>

#include "tensor/rng.h"
#include "train/batch_stats.h"

using namespace normlab;

namespace {
SampleMoments gaussian_moments(int count, int channels, int S, uint64_t seed) {
  SampleMoments m;
  m.count = count;
  m.channels = channels;
  m.s1.resize(std::size_t(count) * channels);
  m.s2.resize(std::size_t(count) * channels);
  Rng rng(seed);
  for (std::size_t i = 0; i < m.s1.size(); ++i) {
    double a = 0, b = 0;
    for (int p = 0; p < S; ++p) {
      const double z = 3.0 + 2.0 * rng.normal();  // any mean and scale: the errors are relative
      a += z;
      b += z * z;
    }
    m.s1[i] = a / S;
    m.s2[i] = b / S;
  }
  return m;
}
}  // namespace

TEST_CASE("batch statistic error: closed forms for iid Gaussian values, dense and pooled over space") {
  for (int S : {1, 9}) {
    const SampleMoments m = gaussian_moments(100000, 4, S, 11 + S);
    for (int B : {2, 4, 16, 64}) {
      const double M = double(B) * S;
      const auto [me, ve] = batch_stat_error(m, B, 3000, 7);
      INFO("S=", S, " B=", B, " mean_err ", me, " var_err ", ve);
      CHECK(std::abs(me * std::sqrt(M) - 1.0) < 0.04);
      CHECK(std::abs(ve / (std::sqrt(2 * M - 1) / M) - 1.0) < 0.05);
    }
  }
}

TEST_CASE("batch statistic error: deterministic per seed, and zero-variance channels are skipped") {
  SampleMoments m = gaussian_moments(5000, 3, 1, 5);
  const auto a = batch_stat_error(m, 8, 100, 42), b = batch_stat_error(m, 8, 100, 42);
  CHECK(a == b);
  CHECK(batch_stat_error(m, 8, 100, 43) != a);
  for (int n = 0; n < m.count; ++n) {  // channel 1 constant: no variance to estimate
    m.s1[std::size_t(n) * 3 + 1] = 2.0;
    m.s2[std::size_t(n) * 3 + 1] = 4.0;
  }
  const auto c = batch_stat_error(m, 8, 100, 42);
  CHECK(std::isfinite(c.first));
  CHECK(std::isfinite(c.second));
}
