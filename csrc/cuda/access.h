// How the CUDA kernels (and their host emulation) read and write the operands of an
// element: PlainAccess for float32 / float64 launches, MixedAccess for launches with
// float16 / bfloat16 operands (Launch::mixed) and float32 master copies. Used by the
// update kernels (mta_kernel.h) and the reductions (reduce_kernel.h).
#pragma once
#include <cstdint>

#include "engine/half_scalar.h"
#include "engine/multi_tensor.h"

namespace fusedoptim {
namespace FO_ISA {

// How a kernel loads and stores operand k of element i (ptr: the tensor's operand
// pointers from its meta). The rule runs on Access::Value.
//
// PlainAccess<T>: every operand is an array of T (float32 or float64 launches).
template <typename T>
struct PlainAccess {
  using Value = T;
  static constexpr bool kPlain = true;
  FO_HD T load(void* const* ptr, int k, std::int64_t i) const {
    return static_cast<const T*>(ptr[k])[i];
  }
  FO_HD void store(void* const* ptr, int k, std::int64_t i, T v) const {
    static_cast<T*>(ptr[k])[i] = v;
  }
  // The access for one tensor's elements (MixedAccess keeps its rounding keys there).
  FO_HD PlainAccess tensor(void* const*) const { return *this; }
};

// MixedAccess<K>: a mixed launch (16-bit params, grads or state; Launch::mixed). Each
// operand's storage is its ElemType (float32, float16, bfloat16); the rule runs in
// float32 (torch's opmath) and a written 16-bit operand is rounded once, with
// engine/half_scalar.h's functions, the CPU's bits: to nearest even, or stochastically.
// An update's metas carry two more slots per tensor (launch_meta.h's meta_slot):
// - slot K, with `master` (Launch::master): the param's float32 master copy, which the
//   rule reads and writes in place of the param; the param is stored as its rounding,
//   as engine/mixed_apply.cpp does on the CPU;
// - slot K + 1, with `stochastic` (Launch::stochastic): the tensor's rounding prekey;
//   operand k's key is splitmix(prekey ^ k), its element i's bits random_bits(key, i),
//   i the element's index in its tensor, as on the CPU. The keys are made once per
//   tensor and thread (tensor()), not per element.
// The flags are run-time values (the same for every thread of a launch), so each rule
// has one mixed kernel, not four.
template <int K>
struct MixedAccess {
  using Value = float;
  static constexpr bool kPlain = false;
  unsigned char elem[K];  // enum ElemType of each operand (kElemF64 never: refused)
  bool master;
  bool stochastic;
  std::uint64_t key[K];  // set by tensor(): operand k's rounding key for this tensor
  FO_HD float load(void* const* ptr, int k, std::int64_t i) const {
    if (master && k == 0) return static_cast<const float*>(ptr[K])[i];
    if (elem[k] == kElemF16) return half_to_float(static_cast<const std::uint16_t*>(ptr[k])[i]);
    if (elem[k] == kElemBF16) return bf16_to_float(static_cast<const std::uint16_t*>(ptr[k])[i]);
    return static_cast<const float*>(ptr[k])[i];
  }
  FO_HD void store(void* const* ptr, int k, std::int64_t i, float v) const {
    if (master && k == 0) static_cast<float*>(ptr[K])[i] = v;
    if (elem[k] == kElemF32) {
      static_cast<float*>(ptr[k])[i] = v;
      return;
    }
    std::uint16_t h;
    if (stochastic) {
      const std::uint32_t r = random_bits(key[k], static_cast<std::uint64_t>(i));
      h = elem[k] == kElemF16 ? float_to_half_sr(v, r) : float_to_bf16_sr(v, r);
    } else {
      h = elem[k] == kElemF16 ? float_to_half(v) : float_to_bf16(v);
    }
    static_cast<std::uint16_t*>(ptr[k])[i] = h;
  }
  // This access with the rounding keys of the tensor whose pointers are ptr.
  FO_HD MixedAccess tensor(void* const* ptr) const {
    MixedAccess a = *this;
    if (stochastic) {
      const auto prekey = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(ptr[K + 1]));
      for (int k = 0; k < K; ++k) a.key[k] = splitmix(prekey ^ static_cast<std::uint64_t>(k));
    }
    return a;
  }
};

// A mixed launch's access for a rule (or reduction) of K operands.
template <int K>
MixedAccess<K> mixed_access(const Launch& l) {
  MixedAccess<K> a{};
  for (int k = 0; k < K; ++k) a.elem[k] = l.elem[k];
  a.master = l.master;
  a.stochastic = l.stochastic;
  return a;
}

}  // namespace FO_ISA
}  // namespace fusedoptim
