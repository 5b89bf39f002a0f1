// The chunk rules of pack/unpack (bindings/copy_binding.cpp), run by multi_tensor_apply
// like any update rule: ptrs[0] is the destination run, ptrs[1] the source run, n elements.
// Compiled with the baseline flags only (no ISA flags): a copy is bound by memory, not
// by arithmetic width.
#pragma once
#include <cstddef>
#include <cstring>

#include "optimizers/spec.h"

namespace fusedoptim {

// Hyper::s[kCopyScale]: the factor of a scaled copy, in double; rounded once to T.
constexpr int kCopyScale = 0;

// An exact copy of n elements of kElemSize bytes: the bytes as they are (NaN payloads,
// signed zeros, subnormals unchanged).
template <std::size_t kElemSize>
void copy_chunk(const Hyper&, void* const* ptrs, std::size_t n) {
  std::memcpy(ptrs[0], ptrs[1], n * kElemSize);
}

// dst[i] = src[i] * T(scale): one IEEE multiply in T per element, NumPy's
// `src * np.asarray(scale, T)` bit for bit (the module is built without fast-math).
template <typename T>
void scale_chunk(const Hyper& hyper, void* const* ptrs, std::size_t n) {
  T* __restrict dst = static_cast<T*>(ptrs[0]);
  const T* __restrict src = static_cast<const T*>(ptrs[1]);
  const T s = static_cast<T>(hyper.s[kCopyScale]);
  for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] * s;
}

}  // namespace fusedoptim
