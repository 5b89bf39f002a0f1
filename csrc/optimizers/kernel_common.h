// Shared pieces of the update rules. Like every header under csrc/optimizers/
// with kernels in it, this one is compiled once per target: csrc/isa/kernels_<isa>.cpp
// define FO_ISA (scalar, avx2, avx512), the CUDA kernels and their host emulator
// define their own, and the code lands in namespace fusedoptim::FO_ISA, so the
// per-target copies never collide at link time.
//
// An update rule is a small struct template Rule<T, F>, written once for CPU and GPU,
// for element type T and flag word F (the family's flag bits, fixed at compile time):
//   kSpec                         its family's spec (optimizers/spec.h)
//   Rule(const Hyper&)            turns the per-step scalars into the element type
//   void operator()(T* x) const   updates one element; x[k] is operand k's value
//   kOperands, kRead, kWrite      operand count and which operands (bit k) are
//                                 loaded before and stored after the call
// RuleFamily makes the rule for each flag word, checked against the spec; rule_loop
// runs a rule over a run of elements on the CPU; csrc/cuda/ runs the same rules in a
// multi-tensor CUDA kernel.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <utility>

#include "optimizers/spec.h"

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

// The rule type a flag dispatch selected, passed as a value to generic lambdas.
template <class Rule>
struct RuleTag {
  using type = Rule;
};

// Whether flag word F has the bit b: rules turn their flags into compile-time bools.
constexpr bool has(std::uint32_t F, std::uint32_t b) { return (F & b) != 0; }

// What every first-order rule does first, once for all of them:
//   g <- maximize ? -g : g
//   weight decay (WD): decoupled p <- p * (1 - lr * wd) (AdamW), else L2 g <- g + wd * p
template <typename T, bool MAXIMIZE, bool WD, bool DECOUPLED = false>
struct GradPrelude {
  T wd, decay;
  GradPrelude(double lr, double weight_decay)
      : wd(static_cast<T>(weight_decay)), decay(static_cast<T>(1.0 - lr * weight_decay)) {}
  // The gradient to use; decays p in place when decoupled.
  FO_HD T operator()(T g, T& p) const {
    g = MAXIMIZE ? -g : g;
    if (WD) {
      if (DECOUPLED)
        p = p * decay;
      else
        g = g + wd * p;
    }
    return g;
  }
};

// fma(a, b, c): a * b + c rounded once, on every path (the CPU kernels are compiled with
// -ffp-contract=off, so a fused multiply-add happens only where a rule writes one).
template <typename T>
FO_HD T fo_fma(T a, T b, T c) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same<T, float>::value)
    return fmaf(a, b, c);
  else
    return fma(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// torch.lerp's two-sided formula: start + w*(end-start) for |w| < 0.5, else
// end - (end-start)*(1-w), each with one rounding after the subtraction, as torch's CPU
// kernels compute it (a fused multiply-add, bit for bit: tests/test_muon.py compares the
// momentum buffers exactly). `low` is |w| < 0.5, decided once per chunk.
template <typename T>
FO_HD T lerp(T start, T end, T weight, T one_minus_weight, bool low) {
  const T diff = end - start;
  return low ? fo_fma(weight, diff, start) : fo_fma(-diff, one_minus_weight, end);
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

// Rules that also return sums (LAMB's and LARS's per-tensor norms): kSums > 0 and
// operator()(T* x, T* r) sets r[0..kSums) to the values whose squares are summed.
template <class Rule, class = void>
struct RuleSums {
  static constexpr int value = 0;
};
template <class Rule>
struct RuleSums<Rule, std::void_t<decltype(Rule::kSums)>> {
  static constexpr int value = Rule::kSums;
};

// rule_loop for a rule with sums: out[k] = sum of r[k]^2 over the run, accumulated in
// double in 16 independent lanes (vectorisable without reassociating anything) and
// added in a fixed order, so the same run always gives the same sums.
template <class Rule, typename T>
void rule_loop_sums(const Hyper& h, void* const* ptrs, std::size_t n, double* out) {
  constexpr int K = Rule::kOperands, S = RuleSums<Rule>::value, L = 16;
  static_assert(K >= 1 && K <= 4 && S >= 1, "rule_loop_sums: 1 to 4 operands, 1 or more sums");
  const Rule rule(h);
  T* __restrict a0 = operand<T>(ptrs, 0);
  T* __restrict a1 = K > 1 ? operand<T>(ptrs, 1) : nullptr;
  T* __restrict a2 = K > 2 ? operand<T>(ptrs, 2) : nullptr;
  T* __restrict a3 = K > 3 ? operand<T>(ptrs, 3) : nullptr;
  constexpr unsigned R = Rule::kRead, W = Rule::kWrite;
  double acc[S][L] = {};
  double tail[S] = {};
  // One element: load, rule, store; r gets its values to sum. Written once for the
  // blocks of L and the tail (a macro, not a lambda: the restrict pointers stay visible).
#define FO_SUMS_ELEMENT(i)      \
  T x[K];                       \
  if (R & 1u) x[0] = a0[i];     \
  if (R & 2u) x[1] = a1[i];     \
  if (R & 4u) x[2] = a2[i];     \
  if (R & 8u) x[3] = a3[i];     \
  T r[S];                       \
  rule(x, r);                   \
  if (W & 1u) a0[i] = x[0];     \
  if (W & 2u) a1[i] = x[1];     \
  if (W & 4u) a2[i] = x[2];     \
  if (W & 8u) a3[i] = x[3];
  std::size_t i0 = 0;
  for (; i0 + L <= n; i0 += L)
    for (int j = 0; j < L; ++j) {
      FO_SUMS_ELEMENT(i0 + j)
      for (int k = 0; k < S; ++k) acc[k][j] += static_cast<double>(r[k]) * static_cast<double>(r[k]);
    }
  for (; i0 < n; ++i0) {
    FO_SUMS_ELEMENT(i0)
    for (int k = 0; k < S; ++k) tail[k] += static_cast<double>(r[k]) * static_cast<double>(r[k]);
  }
#undef FO_SUMS_ELEMENT
  for (int k = 0; k < S; ++k) {
    double s = 0.0;
    for (int j = 0; j < L; ++j) s += acc[k][j];
    out[k] = s + tail[k];
  }
}

// A rule checked against its family's spec: same operand count, writes only operands
// the spec marks written, reads only operands that exist.
template <class Rule, const FamilySpec* S>
constexpr bool rule_fits_spec() {
  static_assert(Rule::kSpec == S, "the kernel list pairs a family with another family's rule");
  static_assert(Rule::kOperands == S->n_operands, "rule and spec disagree on the operand count");
  static_assert((Rule::kWrite & ~S->written_mask()) == 0,
                "the rule writes an operand its spec does not mark written");
  static_assert((Rule::kRead >> S->n_operands) == 0, "the rule reads an operand beyond its spec");
  static_assert(RuleSums<Rule>::value == S->n_sums, "rule and spec disagree on the sums");
  return true;
}

// The family of a rule: Rule<T, F> for each of the 2^n_flags flag words F of spec S.
// with_rule<T>(flags, f) calls f(RuleTag<Rule<T, flags>>{}).
template <const FamilySpec* S, template <typename, std::uint32_t> class Rule>
struct RuleFamily {
  static constexpr const FamilySpec* kSpec = S;
  static constexpr int kSums = RuleSums<Rule<float, 0>>::value;

  template <typename T, typename Fn>
  static void with_rule(std::uint32_t flags, Fn&& fn) {
    with_flags<T>(flags, fn, std::make_integer_sequence<std::uint32_t, (1u << S->n_flags)>{});
  }

 private:
  template <typename T, typename Fn, std::uint32_t... F>
  static void with_flags(std::uint32_t flags, Fn& fn, std::integer_sequence<std::uint32_t, F...>) {
    // Flags beyond the spec's bits never reach a kernel (work_parse.cpp checks them).
    static_assert((rule_fits_spec<Rule<T, F>, S>() && ...), "");
    (void)((flags == F ? (fn(RuleTag<Rule<T, F>>{}), true) : false) || ...);
  }
};

// The CPU chunk kernel of a family: its flags pick the rule, rule_loop runs it.
template <class Family, typename T>
void family_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  Family::template with_rule<T>(h.flags, [&](auto tag) {
    rule_loop<typename decltype(tag)::type, T>(h, ptrs, n);
  });
}

// The CPU kernel of a family whose rules also sum (kSums > 0): the update of
// family_chunk plus the sums; out[kSums..kMaxSums) are left as they are.
template <class Family, typename T>
void family_sums(const Hyper& h, void* const* ptrs, std::size_t n, double* out) {
  Family::template with_rule<T>(h.flags, [&](auto tag) {
    rule_loop_sums<typename decltype(tag)::type, T>(h, ptrs, n, out);
  });
}

}  // namespace FO_ISA
}  // namespace fusedoptim
