#pragma once
// Helpers shared by the kernel tests (conv paths, direct convolution, few-row
// products): seeded normal values and a byte-for-byte comparison.
#include <cstdint>
#include <cstring>
#include <vector>

#include "tensor/rng.h"

namespace normlab::testing {

template <class T>
std::vector<T> random_values(std::size_t n, uint64_t seed) {
  Rng r(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = T(r.normal());
  return v;
}

template <class T>
bool same_bytes(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace normlab::testing
