// Shared pieces of the update rules. Like every header under csrc/optimizers/
// with kernels in it, this one is compiled once per target: csrc/isa/kernels_<isa>.cpp
// define FO_ISA (scalar, avx2, avx512), the CUDA kernels and their host emulator
// define their own, and the code lands in namespace fusedoptim::FO_ISA, so the
// per-target copies never collide at link time.
//
// An update rule is a small struct, written once for CPU and GPU:
//   Rule(const Hyper&)            turns the per-step scalars into the element type
//   void operator()(T* x) const   updates one element; x[k] is operand k's value
//   kOperands, kRead, kWrite      operand count and which operands (bit k) are
//                                 loaded before and stored after the call
// rule_loop below runs a rule over a run of elements on the CPU; csrc/cuda/ runs the
// same rules in a multi-tensor CUDA kernel.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "optimizers/kernel_spec.h"

#ifndef FO_ISA
#error "kernel headers are compiled only from files that define FO_ISA (csrc/isa/, csrc/cuda/)"
#endif

// Rules run on the host and, under nvcc, on the device.
#if defined(__CUDACC__)
#define FO_HD __host__ __device__ __forceinline__
#else
#define FO_HD inline
#endif

namespace fusedoptim {
namespace FO_ISA {

// Calls f(std::integral_constant<bool, b0>{}, ...) so that run-time flags become
// compile-time template arguments: the inner loops carry no branches on options.
// The rule type a flag dispatch selected, passed as a value to generic lambdas.
template <class Rule>
struct RuleTag {
  using type = Rule;
};

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
FO_HD T lerp(T start, T end, T weight, T one_minus_weight, bool low) {
  const T diff = end - start;
  return low ? start + weight * diff : end - diff * one_minus_weight;
}

// The helpers below are written as sequences of independent selects, not nested
// conditionals, so that the compiler turns them into blends and vectorises.

// torch.maximum: NaN in either argument gives NaN.
template <typename T>
FO_HD T max_nan(T a, T b) {
  T m = a > b ? a : b;  // b when either is NaN
  m = (a != a) ? a : m;
  return m;
}

// torch.clamp(x, lo, hi): NaN stays NaN (both comparisons are false for it).
template <typename T>
FO_HD T clamp_nan(T x, T lo, T hi) {
  T y = x < lo ? lo : x;
  y = y > hi ? hi : y;
  return y;
}

// torch.sign for real values: -1, 0 or 1 (0 for NaN).
template <typename T>
FO_HD T sign(T x) {
  T s = x > T(0) ? T(1) : T(0);
  s = x < T(0) ? T(-1) : s;
  return s;
}

template <typename T>
FO_HD T fo_sqrt(T x) {
#if defined(__CUDA_ARCH__)
  // IEEE-rounded (nvcc's default -prec-sqrt=true), in T's own precision.
  if constexpr (std::is_same<T, float>::value)
    return sqrtf(x);
  else
    return sqrt(x);
#else
  return std::sqrt(x);
#endif
}

template <typename T>
FO_HD T fo_fabs(T x) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same<T, float>::value)
    return fabsf(x);
  else
    return fabs(x);
#else
  return std::fabs(x);
#endif
}

template <typename T>
inline T* operand(void* const* ptrs, int k) {
  return static_cast<T*>(ptrs[k]);
}

// A rule over n consecutive elements of its operands. Each operand gets its own
// restrict pointer (an array of them would hide from the compiler that they never
// alias); operands the rule does not load or store may be null.
template <class Rule, typename T>
void rule_loop(const Hyper& h, void* const* ptrs, std::size_t n) {
  static_assert(Rule::kOperands >= 1 && Rule::kOperands <= 5, "rule_loop handles 1 to 5 operands");
  constexpr int K = Rule::kOperands;
  const Rule rule(h);
  T* __restrict a0 = K > 0 ? operand<T>(ptrs, 0) : nullptr;
  T* __restrict a1 = K > 1 ? operand<T>(ptrs, 1) : nullptr;
  T* __restrict a2 = K > 2 ? operand<T>(ptrs, 2) : nullptr;
  T* __restrict a3 = K > 3 ? operand<T>(ptrs, 3) : nullptr;
  T* __restrict a4 = K > 4 ? operand<T>(ptrs, 4) : nullptr;
  constexpr unsigned R = Rule::kRead, W = Rule::kWrite;
  for (std::size_t i = 0; i < n; ++i) {
    T x[K > 0 ? K : 1];
    if (R & 1u) x[0] = a0[i];
    if (R & 2u) x[1] = a1[i];
    if (R & 4u) x[2] = a2[i];
    if (R & 8u) x[3] = a3[i];
    if (R & 16u) x[4] = a4[i];
    rule(x);
    if (W & 1u) a0[i] = x[0];
    if (W & 2u) a1[i] = x[1];
    if (W & 4u) a2[i] = x[2];
    if (W & 8u) a3[i] = x[3];
    if (W & 16u) a4[i] = x[4];
  }
}

// The family of a rule without flags.
template <template <typename> class Rule>
struct FixedFamily {
  template <typename T, typename F>
  static void with_rule(std::uint32_t, F&& fn) {
    fn(RuleTag<Rule<T>>{});
  }
};

// The CPU chunk kernel of a family: its flags pick the rule, rule_loop runs it.
// Family::with_rule<T>(flags, f) calls f(RuleTag<Rule>{}) for the rule of those flags.
template <class Family, typename T>
void family_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  Family::template with_rule<T>(h.flags, [&](auto tag) {
    rule_loop<typename decltype(tag)::type, T>(h, ptrs, n);
  });
}

}  // namespace FO_ISA
}  // namespace fusedoptim
