// Shared pieces of the chunk kernels. Like every header under csrc/optimizers/
// with kernels in it, this one is compiled once per ISA: csrc/isa/kernels_<isa>.cpp
// defines FO_ISA (scalar, avx2, avx512) and the kernels land in namespace
// fusedoptim::FO_ISA, so the per-ISA copies never collide at link time.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "optimizers/kernel_spec.h"

#ifndef FO_ISA
#error "kernel headers are compiled only from csrc/isa/kernels_<isa>.cpp, which define FO_ISA"
#endif

namespace fusedoptim {
namespace FO_ISA {

// Calls f(std::integral_constant<bool, b0>{}, ...) so that run-time flags become
// compile-time template arguments: the inner loops carry no branches on options.
template <typename F>
inline void dispatch_bools(F&& f) {
  f();
}
template <typename F, typename... Rest>
inline void dispatch_bools(F&& f, bool b, Rest... rest) {
  if (b)
    dispatch_bools([&](auto... xs) { f(std::true_type{}, xs...); }, rest...);
  else
    dispatch_bools([&](auto... xs) { f(std::false_type{}, xs...); }, rest...);
}

// torch.lerp's two-sided formula: start + w*(end-start) for |w| < 0.5, else
// end - (end-start)*(1-w). `low` is |w| < 0.5, decided once per chunk.
template <typename T>
inline T lerp(T start, T end, T weight, T one_minus_weight, bool low) {
  const T diff = end - start;
  return low ? start + weight * diff : end - diff * one_minus_weight;
}

// The helpers below are written as sequences of independent selects, not nested
// conditionals, so that the compiler turns them into blends and vectorises.

// torch.maximum: NaN in either argument gives NaN.
template <typename T>
inline T max_nan(T a, T b) {
  T m = a > b ? a : b;  // b when either is NaN
  m = (a != a) ? a : m;
  return m;
}

// torch.clamp(x, lo, hi): NaN stays NaN (both comparisons are false for it).
template <typename T>
inline T clamp_nan(T x, T lo, T hi) {
  T y = x < lo ? lo : x;
  y = y > hi ? hi : y;
  return y;
}

// torch.sign for real values: -1, 0 or 1 (0 for NaN).
template <typename T>
inline T sign(T x) {
  T s = x > T(0) ? T(1) : T(0);
  s = x < T(0) ? T(-1) : s;
  return s;
}

template <typename T>
inline T* operand(void* const* ptrs, int k) {
  return static_cast<T*>(ptrs[k]);
}

}  // namespace FO_ISA
}  // namespace fusedoptim
