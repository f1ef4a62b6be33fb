// Two exact kernels of the evaluation path, against closed forms:
// - percentiles at several q (train/probe.h) against the definition on a fully
//   sorted copy (numpy's linear interpolation, p(q) = z_(k) + f (z_(k+1) - z_(k))),
//   with ties, a single value, and q at 0 and 1;
// - max pooling's choice of the maximum: the first in row-major window order,
//   PyTorch's rule (its kernel replaces the running maximum only on a strictly
//   greater value), so the gradient of a tied window goes to its first element.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <array>
#include <cmath>
#include <vector>

#include "nn/pool.h"
#include "tensor/rng.h"
#include "train/probe.h"

using namespace normlab;

namespace {
double by_definition(std::vector<float> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const std::size_t k = std::size_t(std::floor(pos));
  const double f = pos - double(k);
  if (k + 1 >= v.size()) return v[k];
  return v[k] + f * (double(v[k + 1]) - double(v[k]));
}
}  // namespace

TEST_CASE("percentiles: each value is the definition's, at several q at once and one at a time") {
  Rng r(5);
  // 32,768 values and up take the bucket path, below the selection path
  for (std::size_t n : {1, 2, 3, 7, 20, 101, 1000, 4099, 32767, 32768, 100003}) {
    for (int ties : {0, 1, 2}) {
      std::vector<float> v(n);
      // ties: values from a handful of levels, so order statistics repeat
      // ties 1: a handful of levels, so order statistics repeat; ties 2: half the values
      // are -0 or +0 (equal to <, different bits), the rest spread over many exponents
      for (auto& x : v) {
        if (ties == 1) x = float(std::floor(r.uniform() * 4)) - 1.5f;
        else if (ties == 2) x = r.uniform() < 0.5 ? (r.uniform() < 0.5 ? -0.f : 0.f) : float(r.normal() * std::exp(8 * r.normal()));
        else x = float(r.normal());
      }
      const std::array<double, 6> qs = {0.0, 0.15, 0.5, 0.5, 0.85, 1.0};  // a repeated q too
      std::array<double, 6> got{};
      std::vector<float> work = v;
      percentiles(work, qs, got);
      for (std::size_t j = 0; j < qs.size(); ++j) {
        CAPTURE(n);
        CAPTURE(qs[j]);
        const double want = by_definition(v, qs[j]);
        CHECK(got[j] == want);
        std::vector<float> one = v;
        CHECK(percentile(one, qs[j]) == want);
      }
      std::sort(work.begin(), work.end());  // reordered, never changed
      std::vector<float> sorted = v;
      std::sort(sorted.begin(), sorted.end());
      CHECK(work == sorted);
    }
  }
}

TEST_CASE("max pooling: the first maximum of each window wins, in forward and in backward") {
  // One 4x4 plane, 2x2 windows: ties in every window, a -0/+0 tie, and one strict maximum.
  const std::vector<float> x = {1, 1, 2, 5,   //
                                1, 0, 5, 2,   //
                                -0.f, 0.f, 3, 3,  //
                                0.f, -0.f, 3, 4};
  MaxPool2D<float> pool(Shape{1, 4, 4}, 2);
  pool.reserve(1);
  std::vector<float> y(4);
  pool.forward(y.data(), x.data(), 1, Mode::train);
  CHECK(y == std::vector<float>{1, 5, -0.f, 4});
  CHECK(std::signbit(y[2]));  // the window's first zero is -0
  std::vector<float> dy = {10, 20, 30, 40}, dx(16, 0.f);
  pool.backward(dx.data(), dy.data(), x.data(), y.data(), 1);
  // first maxima: (0,0) of window 0; (0,3) of window 1 (5 before the 5 at (1,2));
  // (2,0) of window 2; (3,3), the strict maximum, of window 3
  const std::vector<float> want = {10, 0, 0, 20,  //
                                   0, 0, 0, 0,    //
                                   30, 0, 0, 0,   //
                                   0, 0, 0, 40};
  CHECK(dx == want);
}

TEST_CASE("max pooling: the 2x2 path's row ends (1-3 outputs after the fours) against a brute-force first maximum") {
  // Row widths whose 2x2 outputs end in 0-3 after whole fours (28 -> 14 and 14 -> 7 are
  // cnn-small's), on values with ties, -0 against +0, and NaN (never replaced, never replacing).
  Rng r(11);
  const float levels[] = {-0.f, 0.f, 1.f, 1.f, std::nanf(""), -2.f};
  auto bits = [](float v) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return u;
  };
  for (const int W : {28, 14, 10, 9, 8, 3, 2}) {
    const int H = 6, C = 3, N = 2;
    MaxPool2D<float> pool(Shape{C, H, W}, 2);
    const Shape o = pool.out_shape();
    pool.reserve(N);
    std::vector<float> x(std::size_t(N) * C * H * W);
    for (auto& v : x) v = levels[std::size_t(r.uniform() * 6) % 6];
    std::vector<float> y(std::size_t(N) * o.size()), dy(y.size()), dx(x.size(), 0.f), want_dx(x.size(), 0.f);
    for (std::size_t j = 0; j < dy.size(); ++j) dy[j] = float(j + 1);
    pool.forward(y.data(), x.data(), N, Mode::train);
    pool.backward(dx.data(), dy.data(), x.data(), y.data(), N);
    int wrong = 0;
    for (int p = 0; p < N * C; ++p)
      for (int oh = 0; oh < o.h; ++oh)
        for (int ow = 0; ow < o.w; ++ow) {
          const float* plane = x.data() + std::size_t(p) * H * W;
          int best = (2 * oh) * W + 2 * ow;
          for (int kh = 0; kh < 2; ++kh)
            for (int kw = 0; kw < 2; ++kw) {
              const int idx = (2 * oh + kh) * W + 2 * ow + kw;
              if (plane[idx] > plane[best]) best = idx;
            }
          const std::size_t q = std::size_t(p) * o.spatial() + std::size_t(oh) * o.w + ow;
          wrong += bits(y[q]) != bits(plane[best]);
          want_dx[std::size_t(p) * H * W + best] += dy[q];
        }
    CAPTURE(W);
    CHECK(wrong == 0);
    CHECK(std::memcmp(dx.data(), want_dx.data(), dx.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("max pooling: 2x2 fast path and general kernels against a brute-force first maximum") {
  Rng r(9);
  struct Case {
    int C, H, W, k, s;
  };
  for (const Case t : {Case{3, 5, 7, 2, 2}, Case{2, 8, 8, 2, 2}, Case{2, 6, 5, 3, 1}, Case{1, 7, 7, 3, 2},
                       Case{2, 4, 6, 2, 1}}) {
    MaxPool2D<float> pool(Shape{t.C, t.H, t.W}, t.k, t.s);
    const Shape o = pool.out_shape();
    const int N = 2;
    pool.reserve(N);
    std::vector<float> x(std::size_t(N) * t.C * t.H * t.W);
    for (auto& v : x) v = float(std::floor(r.uniform() * 3));  // three levels: ties everywhere
    std::vector<float> y(std::size_t(N) * o.size()), dy(y.size()), dx(x.size(), 0.f), want_dx(x.size(), 0.f);
    for (std::size_t j = 0; j < dy.size(); ++j) dy[j] = float(j + 1);
    pool.forward(y.data(), x.data(), N, Mode::train);
    pool.backward(dx.data(), dy.data(), x.data(), y.data(), N);
    for (int p = 0; p < N * t.C; ++p)
      for (int oh = 0; oh < o.h; ++oh)
        for (int ow = 0; ow < o.w; ++ow) {
          const float* plane = x.data() + std::size_t(p) * t.H * t.W;
          int best = -1;
          for (int kh = 0; kh < t.k; ++kh)
            for (int kw = 0; kw < t.k; ++kw) {
              const int idx = (oh * t.s + kh) * t.W + ow * t.s + kw;
              if (best < 0 || plane[idx] > plane[best]) best = idx;
            }
          const std::size_t q = std::size_t(p) * o.spatial() + std::size_t(oh) * o.w + ow;
          CHECK(y[q] == plane[best]);
          want_dx[std::size_t(p) * t.H * t.W + best] += dy[q];
        }
    CHECK(dx == want_dx);
  }
}
