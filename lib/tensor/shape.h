#pragma once
// Per-sample shape of an NCHW activation: the batch dimension N is passed
// separately to every kernel, so one model serves any batch size.
#include <cstddef>
#include <string>

namespace normlab {

struct Shape {
  int c = 1, h = 1, w = 1;
  std::size_t size() const { return std::size_t(c) * h * w; }
  int spatial() const { return h * w; }
  bool operator==(const Shape&) const = default;
  std::string str() const {
    return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
  }
};

}  // namespace normlab
