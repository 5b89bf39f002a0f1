// Steps over float16 / bfloat16 operands one vector at a time: for each block of kVec
// elements, every operand the rule reads is loaded and converted to float32 in a vector
// register, the float32 rule runs over the block's lanes (the compiler turns that loop
// into one vector op per rule op), and every operand it writes is rounded back and
// stored. The values stay in registers, where engine/mixed_apply.cpp's tiles go through
// L1 three times (converted in, rule, converted out) and are bound by those loads and
// stores (bfloat16 Adam on ResNet-50 at 1 thread: 0.85 ns a value on tiles, 0.57 here
// with the CPU's bfloat16 conversion; benchmarks/RESULTS.md, "16-bit steps in registers").
//
// Each operand's storage (float32, float16, bfloat16), the master copy and loss scaling
// are read at run time, one branch per operand and block, so a family has one kernel for
// every mixed launch. The bits are the tiles': the same conversions and the same float32
// rule, compiled like every ISA kernel with -ffp-contract=off (no FMA the source does not
// write), so no copy of a rule rounds differently from another.
//
// Compiled for the vector ISAs from isa/mixed_table.inc; the scalar path, stochastic
// rounding (engine/mixed_apply.cpp says why) and the summing rules keep the tiles.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/half_convert.h"
#include "engine/multi_tensor.h"
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

static_assert(kVec > 0, "mixed_block.h is compiled for the vector ISAs only");

// The grads times 1 / scale (a power of two: exact, as the tiles' g * unscale).
inline VecF unscaled(VecF g, float unscale) {
#if defined(__AVX512F__)
  return _mm512_mul_ps(g, _mm512_set1_ps(unscale));
#else
  return _mm256_mul_ps(g, _mm256_set1_ps(unscale));
#endif
}

inline VecF vec_load(int type, const char* p) {
  switch (type) {
    case kElemF16:
      return vec_load_f16(p);
    case kElemBF16:
      return vec_load_bf16(p);
    default:
      return vec_load_f32(p);
  }
}

// One block of an operand stored, rounded to nearest. Returns the lanes a bfloat16 store by
// the CPU's conversion got wrong (subnormal floats), which the caller stores again by the
// integer rounding (rare: one test per block, not per store).
inline SubMask vec_store(int type, char* p, VecF x) {
  if (type == kElemF32) {
    vec_store_f32(p, x);
  } else if (type == kElemBF16) {
    vec_store_bf16_cpu(p, x);
    return vec_subnormal_mask(x);
  } else {
    vec_store_f16(p, x);
  }
  return 0;
}

// The rule over n elements (a multiple of kVec), one block at a time. PLAIN: no master
// copy or loss scaling (the common case, without their branches). Not inlined: the last
// partial block runs through the same code (mixed_block_loop), not a second copy.
template <class Rule, bool PLAIN>
__attribute__((noinline, flatten)) void run_blocks(const Rule& rule_ref, const MixedArgs& a,
                                                   void* const* ptrs, std::size_t n) {
  const Rule rule = rule_ref;  // a local copy: in registers, not reloaded after each store
  constexpr int K = Rule::kOperands;
  constexpr unsigned R = Rule::kRead, W = Rule::kWrite;
  // The rule reads and writes operand 0 in the master copy where there is one; the param
  // is stored as its rounding.
  char* const master = !PLAIN && a.master ? static_cast<char*>(ptrs[kMasterSlot]) : nullptr;
  const bool scaled = !PLAIN && a.unscale != 1.0f;
  const float unscale = a.unscale;
  // Copied out of `a` and `ptrs`: the stores below could alias them as far as the
  // compiler knows, and it would load them again for every block.
  char* base[K];
  int type[K];
  std::size_t size[K];
  for (int k = 0; k < K; ++k) {
    base[k] = static_cast<char*>(ptrs[k]);
    type[k] = a.elem[k];
    size[k] = elem_bytes(a.elem[k]);
  }
  for (std::size_t i = 0; i < n; i += kVec) {
    alignas(64) float t[K][kVec];
    for (int k = 0; k < K; ++k) {
      if (!(R >> k & 1u)) continue;
      VecF v = k == 0 && master ? vec_load_f32(master + i * 4)
                                : vec_load(type[k], base[k] + i * size[k]);
      if (k == 1 && scaled) v = unscaled(v, unscale);
      vec_store_f32(t[k], v);
    }
    for (std::size_t j = 0; j < kVec; ++j) {
      float x[K];
      for (int k = 0; k < K; ++k)
        if (R >> k & 1u) x[k] = t[k][j];
      rule(x);
      for (int k = 0; k < K; ++k)
        if (W >> k & 1u) t[k][j] = x[k];
    }
    SubMask redo = 0;
    for (int k = 0; k < K; ++k) {
      if (!(W >> k & 1u)) continue;
      const VecF v = vec_load_f32(t[k]);
      if (k == 0 && master) vec_store_f32(master + i * 4, v);
      redo |= vec_store(type[k], base[k] + i * size[k], v);
    }
    if (kCpuBf16 && redo) {
      for (int k = 0; k < K; ++k)
        if ((W >> k & 1u) && type[k] == kElemBF16)
          vec_store_bf16_int(base[k] + i * 2, vec_load_f32(t[k]));
    }
  }
}

// A rule over n elements of a mixed segment: the full blocks, then the last n % kVec
// elements as one block of zero-padded copies, through the same code, copied back.
template <class Rule>
void mixed_block_loop(const Hyper& h, const MixedArgs& a, void* const* ptrs, std::size_t n) {
  static_assert(Rule::kOperands >= 1 && Rule::kOperands <= kMasterSlot, "1 to 5 operands");
  constexpr int K = Rule::kOperands;
  const Rule rule(h);
  const bool plain = !a.master && a.unscale == 1.0f;
  const auto run = [&](const MixedArgs& args, void* const* p, std::size_t count) {
    if (plain)
      run_blocks<Rule, true>(rule, args, p, count);
    else
      run_blocks<Rule, false>(rule, args, p, count);
  };
  const std::size_t full = n - n % kVec;
  if (full > 0) run(a, ptrs, full);
  if (full == n) return;
  const std::size_t m = n - full;
  alignas(64) char buf[kMaxOperands][kVec * 4] = {};
  void* tail[kMaxOperands] = {};
  std::size_t size[kMaxOperands] = {};
  for (int k = 0; k <= kMasterSlot; ++k) {
    if (k >= K && !(k == kMasterSlot && a.master)) continue;
    if (!ptrs[k]) continue;
    size[k] = k == kMasterSlot ? 4 : elem_bytes(a.elem[k]);
    std::memcpy(buf[k], static_cast<const char*>(ptrs[k]) + full * size[k], m * size[k]);
    tail[k] = buf[k];
  }
  run(a, tail, kVec);
  for (int k = 0; k <= kMasterSlot; ++k) {
    const bool written = (Rule::kWrite >> (k == kMasterSlot ? 0 : k) & 1u) != 0;
    if (tail[k] && written)
      std::memcpy(static_cast<char*>(ptrs[k]) + full * size[k], buf[k], m * size[k]);
  }
}

// The mixed kernel of a family: its flags pick the rule.
template <class Family>
void family_mixed(const Hyper& h, const MixedArgs& a, void* const* ptrs, std::size_t n) {
  Family::template with_rule<float>(h.flags, [&](auto tag) {
    mixed_block_loop<typename decltype(tag)::type>(h, a, ptrs, n);
  });
}

}  // namespace FO_ISA
}  // namespace fusedoptim
