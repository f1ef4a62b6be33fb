// The few-row product (tensor/small_rows.h) against references written here:
// the documented fma chain one scalar at a time (bytes, both code paths, which
// must agree so that a machine without AVX2 gets the same results), and a
// double-precision product (values).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernel_test_util.h"
#include "tensor/small_rows.h"

using namespace normlab;
using normlab::testing::random_values;

namespace {
template <class T>
void check_shape(int M, int N, int K, SmallRowsIsa isa) {
  CAPTURE(M); CAPTURE(N); CAPTURE(K); CAPTURE(int(isa));
  const auto A = random_values<T>(std::size_t(M) * K, 1), B = random_values<T>(std::size_t(K) * N, 2);
  const auto C0 = random_values<T>(std::size_t(M) * N, 3);
  for (bool accumulate : {false, true}) {
    CAPTURE(accumulate);
    std::vector<T> got = C0, want = C0;
    small_rows_product(got.data(), A.data(), B.data(), M, N, K, accumulate, isa);
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        T acc = 0;
        double exact = accumulate ? double(C0[std::size_t(m) * N + n]) : 0.0;
        for (int k = 0; k < K; ++k) {
          acc = std::fma(A[std::size_t(m) * K + k], B[std::size_t(k) * N + n], acc);
          exact += double(A[std::size_t(m) * K + k]) * double(B[std::size_t(k) * N + n]);
        }
        T& w = want[std::size_t(m) * N + n];
        w = accumulate ? w + acc : acc;
        CHECK(double(got[std::size_t(m) * N + n]) == doctest::Approx(exact).epsilon(1e-5).scale(10));
      }
    CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(T)) == 0);
  }
}
}  // namespace

TEST_CASE("small rows product: the documented fma order, both code paths, float and double") {
  std::vector<SmallRowsIsa> paths = {SmallRowsIsa::portable};
  if (small_rows_vector_supported()) paths.push_back(SmallRowsIsa::vector);
  else MESSAGE("this CPU has no AVX2+FMA: only the portable path is checked");
  // the rnn's shapes (H = 128 and 32) and odd ones: a partial column block, fewer columns than a block
  const int shapes[][3] = {{2, 128, 128}, {8, 128, 128}, {1, 32, 32}, {3, 45, 17}, {5, 7, 9}, {kSmallRowsMax, 96, 1}};
  for (SmallRowsIsa isa : paths)
    for (const auto& s : shapes) {
      check_shape<float>(s[0], s[1], s[2], isa);
      check_shape<double>(s[0], s[1], s[2], isa);
    }
}
