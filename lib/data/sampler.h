#pragma once
// Mini-batches of sample indices for one training split.
#include <cstdint>
#include <vector>

namespace normlab {

// Each epoch is a fresh permutation of 0..count-1, a function of (seed, epoch)
// only: epoch e's order does not depend on which epochs ran before, so a
// resumed run sees the same batches. Batches are views into the permutation
// (no copying of data or indices).
class EpochSampler {
 public:
  // drop_last (the default) drops the final partial batch, so batch
  // statistics never see a batch smaller than `batch` (never a batch of 1).
  // Throws ConfigError if batch < 1, or if drop_last and count < batch (an
  // epoch would have no batch at all).
  EpochSampler(int count, int batch, uint64_t seed, bool drop_last = true);

  // Shuffles for epoch `epoch` (any integer >= 0) and rewinds.
  void start_epoch(int epoch);
  // Next batch of the current epoch: idx points at n indices, valid until the
  // next start_epoch. Returns false when the epoch is done.
  bool next(const uint32_t*& idx, int& n);
  int batches_per_epoch() const;
  int count() const { return count_; }
  int batch() const { return batch_; }
  // The whole permutation of the current epoch.
  const std::vector<uint32_t>& order() const { return perm_; }

 private:
  int count_, batch_;
  uint64_t seed_;
  bool drop_last_;
  std::vector<uint32_t> perm_;
  int pos_ = 0;
};

}  // namespace normlab
