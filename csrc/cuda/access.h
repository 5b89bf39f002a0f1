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
};

// MixedAccess<K, M>: a mixed launch (16-bit params, grads or state; Launch::mixed).
// Each operand's storage is its ElemType (float32, float16, bfloat16); the rule runs in
// float32 (torch's opmath) and a written 16-bit operand is rounded to nearest even once,
// with engine/half_scalar.h's functions, the CPU's bits. With M (Launch::master), the
// params' float32 master copies ride in the meta's operand slot K: the rule reads and
// writes the master in place of the param, and the param is stored as its rounding, as
// engine/mixed_apply.cpp does on the CPU.
template <int K, bool M>
struct MixedAccess {
  using Value = float;
  static constexpr bool kPlain = false;
  unsigned char elem[K];  // enum ElemType of each operand (kElemF64 never: refused)
  FO_HD float load(void* const* ptr, int k, std::int64_t i) const {
    if (M && k == 0) return static_cast<const float*>(ptr[K])[i];
    if (elem[k] == kElemF16) return half_to_float(static_cast<const std::uint16_t*>(ptr[k])[i]);
    if (elem[k] == kElemBF16) return bf16_to_float(static_cast<const std::uint16_t*>(ptr[k])[i]);
    return static_cast<const float*>(ptr[k])[i];
  }
  FO_HD void store(void* const* ptr, int k, std::int64_t i, float v) const {
    if (M && k == 0) static_cast<float*>(ptr[K])[i] = v;
    if (elem[k] == kElemF16)
      static_cast<std::uint16_t*>(ptr[k])[i] = float_to_half(v);
    else if (elem[k] == kElemBF16)
      static_cast<std::uint16_t*>(ptr[k])[i] = float_to_bf16(v);
    else
      static_cast<float*>(ptr[k])[i] = v;
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
