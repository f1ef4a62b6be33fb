#pragma once
// Deterministic random numbers: data generation, shuffling, initialization.
//
// splitmix64 (Steele, Lea, Flood 2014) expands a 64-bit seed into state;
// xoshiro256** (Blackman, Vigna 2018) generates. Uniform doubles take the top
// 53 bits; normals come from our own Box–Muller in double; bounded integers
// use Lemire's multiply-and-reject. No std::*_distribution anywhere: their
// output differs across standard libraries, and a seed must give the same
// data on every machine.
#include <cmath>
#include <cstdint>

namespace normlab {

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Mixes several words into one seed, so (seed, epoch) or (seed, stream) pairs
// give unrelated streams.
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t x = a ^ 0x6A09E667F3BCC909ull;
  uint64_t h = splitmix64(x);
  x = h ^ b;
  return splitmix64(x);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (auto& w : s_) w = splitmix64(x);
  }
  // An independent stream of a seed (one per weight tensor, say).
  Rng(uint64_t seed, uint64_t stream) : Rng(mix_seed(seed, stream)) {}

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 53 random bits.
  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [0, n), unbiased. REQUIRES: n > 0.
  uint32_t below(uint32_t n) {
    uint64_t m = uint64_t(uint32_t(next_u64() >> 32)) * n;
    uint32_t low = uint32_t(m);
    if (low < n) {
      const uint32_t threshold = uint32_t(-n) % n;
      while (low < threshold) {
        m = uint64_t(uint32_t(next_u64() >> 32)) * n;
        low = uint32_t(m);
      }
    }
    return uint32_t(m >> 32);
  }

  // Standard normal, Box–Muller: z0 = sqrt(-2 ln u1) cos(2π u2), z1 = ... sin(2π u2).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();  // log(0) is -inf
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 6.283185307179586476925 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace normlab
