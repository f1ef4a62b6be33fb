#pragma once
// Scratch<T>: a std::vector whose new elements are left uninitialized.
//
// Contract: for arrays every reader finds written first (activations, their
// gradients, which Sequential::backward zeroes per step, pooling indices, im2col
// columns). Resizing one does not touch its memory, so the operating system
// maps a page only when a run first writes it: a model reserved for 1,000-image
// evaluation batches but trained at batch 32 never pays for the gradient rows
// beyond 32. Nothing computed depends on this type, so bytes are unchanged.
#include <memory>
#include <new>
#include <utility>
#include <vector>

namespace normlab {

template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  // value-initialization (vector::resize(n)) becomes default-initialization: no zeroing
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class T>
using Scratch = std::vector<T, DefaultInitAllocator<T>>;

}  // namespace normlab
