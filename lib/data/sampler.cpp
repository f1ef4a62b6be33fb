// Per-epoch shuffle: Fisher–Yates (Durstenfeld) over the identity permutation,
//   for i = n-1 .. 1: j = uniform{0..i}; swap(p[i], p[j]),
// driven by xoshiro256** seeded with mix(seed, epoch), so the permutation is
// uniform and a pure function of (seed, epoch).
#include "data/sampler.h"

#include <numeric>
#include <string>

#include "tensor/rng.h"
#include "core/errors.h"

namespace normlab {

EpochSampler::EpochSampler(int count, int batch, uint64_t seed, bool drop_last)
    : count_(count), batch_(batch), seed_(seed), drop_last_(drop_last) {
  if (batch < 1) throw ConfigError("batch size must be >= 1, got " + std::to_string(batch));
  if (count < 0) throw ConfigError("sample count must be >= 0, got " + std::to_string(count));
  if (drop_last && count < batch)
    throw ConfigError("batch size " + std::to_string(batch) + " is larger than the training split (" +
                      std::to_string(count) + " samples): with drop_last an epoch would have no batch");
  perm_.resize(count);
  start_epoch(0);
}

void EpochSampler::start_epoch(int epoch) {
  std::iota(perm_.begin(), perm_.end(), 0u);
  Rng r(mix_seed(seed_, uint64_t(uint32_t(epoch)) + 0x5EEDull));
  for (int i = count_ - 1; i > 0; --i) std::swap(perm_[i], perm_[r.below(uint32_t(i) + 1)]);
  pos_ = 0;
}

bool EpochSampler::next(const uint32_t*& idx, int& n) {
  const int left = count_ - pos_;
  if (left <= 0 || (drop_last_ && left < batch_)) return false;
  n = left < batch_ ? left : batch_;
  idx = perm_.data() + pos_;
  pos_ += n;
  return true;
}

int EpochSampler::batches_per_epoch() const {
  return drop_last_ ? count_ / batch_ : (count_ + batch_ - 1) / batch_;
}

}  // namespace normlab
