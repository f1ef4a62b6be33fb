#pragma once
// Matrix products with few rows, C (M, N) = A (M, K) @ B (K, N), for M up to
// kSmallRowsMax: the rnn's per-step recurrent products at small batches. A BLAS
// call repacks B, the (H, H) recurrent weight, on every call, which for two
// rows costs more than the product (rnn-none/b2: 29% of the step in packing).
//
// Summation order, fixed, so the bytes are the same on every machine and for
// both code paths: each C element is the fma chain over k in order, from 0,
//   acc = 0; for k = 0..K-1: acc = fma(A[m, k], B[k, n], acc)
// then C = acc (assign) or C = C + acc (accumulate).
// Row-major, leading dimensions K, N and N. `vector` is compiled for AVX2+FMA,
// `portable` for any x86-64; `best` picks the vector path when the CPU has it.
namespace normlab {

inline constexpr int kSmallRowsMax = 4;

enum class SmallRowsIsa { best, vector, portable };
bool small_rows_vector_supported();

// REQUIRES: 1 <= M; C aliases neither A nor B.
template <class T>
void small_rows_product(T* C, const T* A, const T* B, int M, int N, int K, bool accumulate,
                        SmallRowsIsa isa = SmallRowsIsa::best);

}  // namespace normlab
