// Not used by normlab: a prototype measured in results/bench/conv_options.md ("A GEMM of fixed order").
#pragma once
// A matrix product whose summation order is fixed by its definition, so that its
// bytes are the same on every machine, for any blocking, and on both code paths:
//
//   C (M, N) = init + A (M, K) B (K, N), row-major, leading dimensions lda, ldb, ldc:
//     for each (i, j): acc = init(i, j); for k = 0 .. K-1: acc = fma(A[i,k], B[k,j], acc); C[i,j] = acc
//
// fma is exactly rounded (IEEE 754), so a vector fma lane and std::fma agree to
// the bit. OpenBLAS makes no such promise: the sum it forms for one output
// depends on the product's shape and on the CPU's kernel. With a fixed order a
// caller may cut a product into any blocks (samples, slices, threads) without
// changing a byte, as long as each output's chain runs over k in order.
//
// The vector path (AVX2 + FMA, float) keeps 4 rows x 3 vectors of 8 columns in
// registers, one chain per lane; the portable path is the loop above.

namespace normlab {

// Where each output's chain starts.
enum class ChainInit {
  zero,        // acc = 0
  accumulate,  // acc = C[i,j] (C += A B, continuing the chain of an earlier call)
  row,         // acc = row[i] (a bias per output row)
};

enum class OrderedIsa { best, vector, portable };

// Whether this CPU can run the vector path.
bool ordered_gemm_vector_supported();

// REQUIRES: M, N, K >= 0; lda >= K, ldb >= N, ldc >= N; row non-null iff init == row.
// C must not overlap A or B.
template <class T>
void ordered_gemm(int M, int N, int K, const T* A, int lda, const T* B, int ldb, T* C, int ldc, ChainInit init,
                  const T* row = nullptr, OrderedIsa isa = OrderedIsa::best);

}  // namespace normlab
