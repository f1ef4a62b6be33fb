// The unit tests run on the same pinned BLAS kernel as normlab itself.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "tensor/blas_kernel.h"

int main(int argc, char** argv) {
  if (const auto err = normlab::pin_blas_kernel(argv)) {
    std::fprintf(stderr, "%s\n", err->c_str());
    return 2;
  }
  return doctest::Context(argc, argv).run();
}
