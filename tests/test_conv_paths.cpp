// The im2col paths (rows, flat, gather) against each other, byte for byte:
// im2col must copy the same values, and col2im_add must make the same adds in
// the same order, so a path changes the time of a convolution, never its bytes.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "nn/conv2d.h"
#include "kernel_test_util.h"

using namespace normlab;
using normlab::testing::random_values;
using normlab::testing::same_bytes;

namespace {

// Every path that applies to g gives rows' bytes, for im2col and for col2im_add
// onto a nonzero image (backward accumulates into what is there).
template <class T>
void check_paths(const ConvGeom& g) {
  CAPTURE(g.C); CAPTURE(g.H); CAPTURE(g.W); CAPTURE(g.KH); CAPTURE(g.stride); CAPTURE(g.pad);
  const std::size_t img_n = std::size_t(g.C) * g.H * g.W, col_n = std::size_t(g.K()) * g.P();
  const auto img = random_values<T>(img_n, 1), col = random_values<T>(col_n, 2);
  std::vector<T> want_col(col_n, T(7)), want_img = img;
  im2col(want_col.data(), img.data(), g);
  col2im_add(want_img.data(), col.data(), g);
  std::vector<Im2colPath> paths = {Im2colPath::rows, Im2colPath::gather};
  if (g.stride == 1 && g.OW() == g.W) paths.push_back(Im2colPath::flat);
  for (Im2colPath p : paths) {
    CAPTURE(int(p));
    const Im2colPlan plan = im2col_plan(g, p);
    std::vector<T> got_col(col_n, T(7)), got_img = img;  // 7: a stale workspace
    im2col(got_col.data(), img.data(), g, plan);
    col2im_add(got_img.data(), col.data(), g, plan);
    CHECK(same_bytes(got_col, want_col));
    CHECK(same_bytes(got_img, want_img));
  }
  const Im2colPlan chosen = im2col_plan(g);  // the default choice is one of them
  std::vector<T> got_col(col_n, T(7));
  im2col(got_col.data(), img.data(), g, chosen);
  CHECK(same_bytes(got_col, want_col));
}

// Geometries of the models (cnn, cnn-small, cnn-deep, resnet) and odd ones:
// non-square, 5x5 and 1x1 kernels, stride 3, padding larger than the kernel's half.
const ConvGeom kGeoms[] = {
    {1, 28, 28, 32, 3, 3, 1, 0}, {1, 28, 28, 16, 3, 3, 1, 1}, {16, 14, 14, 32, 3, 3, 1, 1},
    {1, 28, 28, 16, 3, 3, 2, 1}, {16, 14, 14, 32, 3, 3, 2, 1}, {32, 7, 7, 64, 3, 3, 2, 1},
    {16, 28, 28, 16, 3, 3, 1, 1}, {16, 28, 28, 32, 1, 1, 2, 0}, {64, 7, 7, 64, 3, 3, 1, 1},
    {3, 7, 5, 4, 3, 3, 2, 1},    {2, 6, 9, 3, 5, 5, 1, 2},     {2, 8, 8, 3, 3, 3, 3, 2},
    {1, 4, 4, 2, 3, 3, 1, 2},    {2, 5, 7, 2, 1, 1, 1, 0},     {1, 2, 2, 1, 3, 3, 2, 1}};

}  // namespace

TEST_CASE("conv im2col paths: rows, flat and gather give the same bytes (float and double)") {
  for (const ConvGeom& g : kGeoms) {
    check_paths<float>(g);
    check_paths<double>(g);
  }
}

TEST_CASE("conv im2col paths: flat is refused where it does not apply") {
  CHECK_THROWS(im2col_plan(ConvGeom{1, 28, 28, 32, 3, 3, 1, 0}, Im2colPath::flat));  // OW != W
  CHECK_THROWS(im2col_plan(ConvGeom{1, 28, 28, 16, 3, 3, 2, 1}, Im2colPath::flat));  // stride 2
  CHECK(im2col_plan(ConvGeom{16, 28, 28, 16, 3, 3, 1, 1}).path == Im2colPath::flat);
  CHECK(im2col_plan(ConvGeom{16, 14, 14, 32, 3, 3, 2, 1}).path == Im2colPath::gather);
}
