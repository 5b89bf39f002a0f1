// float16 and bfloat16 to and from float32, over runs of elements: the loads and
// stores of the 16-bit operands of a step (engine/mixed_apply.cpp converts a tile,
// runs the float32 rule over it, rounds back). Compiled once per ISA from
// isa/kernel_table.inc, like the rules. The scalar path is plain integer and float
// code; the AVX2 path (compiled with -mf16c: every AVX2 CPU has F16C, and the CPU check
// asks for it) and the AVX-512 path use the hardware conversions for float16 and
// vector integer code for bfloat16, with the scalar code for the tail. All give the
// same bits (tests/test_half_convert.py checks every 16-bit value both ways).
//
// Rounding is to nearest, ties to even, as torch's float -> Half/BFloat16 casts and
// NumPy's / ml_dtypes' astype. NaN stays NaN (quiet); inf stays inf; float32 values
// beyond the 16-bit range round to inf, as IEEE says.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "engine/half_scalar.h"

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifndef FO_ISA
#error "half_convert.h is compiled only from files that define FO_ISA (csrc/isa/)"
#endif

namespace fusedoptim {
namespace FO_ISA {

#if defined(__AVX512F__)
constexpr std::size_t kVec = 16;
// 16 floats -> 16 bfloat16 (as float_to_bf16), one per 32-bit lane.
inline __m512i bf16_round_lanes(__m512i u) {
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  const __mmask16 is_nan = _mm512_cmpgt_epu32_mask(
      _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_mask_blend_epi32(is_nan, rounded, nan);
}
inline __m256i bf16_round(__m512 x) {
  return _mm512_cvtepi32_epi16(bf16_round_lanes(_mm512_castps_si512(x)));
}
#elif defined(__AVX2__) && defined(__F16C__)
constexpr std::size_t kVec = 8;
// 8 floats -> 8 bfloat16 (as float_to_bf16), one per 32-bit lane.
inline __m256i bf16_round_lanes(__m256i u) {
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                            _mm256_set1_epi32(0x7f800000));
  return _mm256_blendv_epi8(rounded, nan, is_nan);
}
// 8 lanes of 16-bit values (in 32-bit lanes) -> 8 uint16.
inline __m128i pack_lanes(__m256i r) {
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
inline __m128i bf16_round(__m256 x) { return pack_lanes(bf16_round_lanes(_mm256_castps_si256(x))); }
#else
constexpr std::size_t kVec = 0;  // the scalar loops only
#endif

// One vector of kVec values to and from float32: the loops below and the mixed blocks
// (engine/mixed_block.h) are made of these.
#if defined(__AVX512F__)
using VecF = __m512;
inline VecF vec_load_f32(const void* p) { return _mm512_loadu_ps(static_cast<const float*>(p)); }
inline void vec_store_f32(void* p, VecF x) { _mm512_storeu_ps(static_cast<float*>(p), x); }
inline VecF vec_load_f16(const void* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(static_cast<const __m256i*>(p)));
}
inline void vec_store_f16(void* p, VecF x) {
  _mm256_storeu_si256(static_cast<__m256i*>(p),
                      _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
inline VecF vec_load_bf16(const void* p) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(
      _mm512_cvtepu16_epi32(_mm256_loadu_si256(static_cast<const __m256i*>(p))), 16));
}
// bfloat16 stored by integer rounding (bf16_round); with AVX-512 BF16, also by the CPU's
// conversion (VCVTNEPS2BF16), which rounds to nearest even and quiets NaN as
// float_to_bf16 does but reads a subnormal float as zero: a block where
// vec_subnormal_mask is not 0 must be stored by the integer rounding instead.
inline void vec_store_bf16_int(void* p, VecF x) {
  _mm256_storeu_si256(static_cast<__m256i*>(p), bf16_round(x));
}
#if defined(__AVX512BF16__) && defined(__AVX512DQ__)
constexpr bool kCpuBf16 = true;
inline void vec_store_bf16_cpu(void* p, VecF x) {
  _mm256_storeu_si256(static_cast<__m256i*>(p), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(x)));
}
using SubMask = __mmask16;  // kept in a mask register between the stores of a block
inline SubMask vec_subnormal_mask(VecF x) { return _mm512_fpclass_ps_mask(x, 0x20); }
inline void vec_store_bf16(void* p, VecF x) {
  if (vec_subnormal_mask(x))
    vec_store_bf16_int(p, x);
  else
    vec_store_bf16_cpu(p, x);
}
#else
constexpr bool kCpuBf16 = false;
using SubMask = unsigned;
inline void vec_store_bf16_cpu(void* p, VecF x) { vec_store_bf16_int(p, x); }
inline SubMask vec_subnormal_mask(VecF) { return 0; }
inline void vec_store_bf16(void* p, VecF x) { vec_store_bf16_int(p, x); }
#endif
#elif defined(__AVX2__) && defined(__F16C__)
using VecF = __m256;
inline VecF vec_load_f32(const void* p) { return _mm256_loadu_ps(static_cast<const float*>(p)); }
inline void vec_store_f32(void* p, VecF x) { _mm256_storeu_ps(static_cast<float*>(p), x); }
inline VecF vec_load_f16(const void* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}
inline void vec_store_f16(void* p, VecF x) {
  _mm_storeu_si128(static_cast<__m128i*>(p),
                   _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}
inline VecF vec_load_bf16(const void* p) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(
      _mm256_cvtepu16_epi32(_mm_loadu_si128(static_cast<const __m128i*>(p))), 16));
}
inline void vec_store_bf16(void* p, VecF x) {
  _mm_storeu_si128(static_cast<__m128i*>(p), bf16_round(x));
}
constexpr bool kCpuBf16 = false;
using SubMask = unsigned;
inline void vec_store_bf16_int(void* p, VecF x) { vec_store_bf16(p, x); }
inline void vec_store_bf16_cpu(void* p, VecF x) { vec_store_bf16(p, x); }
inline SubMask vec_subnormal_mask(VecF) { return 0; }
#endif

inline void load_f16(const void* src, float* __restrict dst, std::size_t n) {
  const std::uint16_t* __restrict s = static_cast<const std::uint16_t*>(src);
  std::size_t i = 0;
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__F16C__))
  for (; i + kVec <= n; i += kVec) vec_store_f32(dst + i, vec_load_f16(s + i));
#endif
  for (; i < n; ++i) dst[i] = half_to_float(s[i]);
}
inline void store_f16(const float* __restrict src, void* dst, std::size_t n) {
  std::uint16_t* __restrict d = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__F16C__))
  for (; i + kVec <= n; i += kVec) vec_store_f16(d + i, vec_load_f32(src + i));
#endif
  for (; i < n; ++i) d[i] = float_to_half(src[i]);
}
inline void load_bf16(const void* src, float* __restrict dst, std::size_t n) {
  const std::uint16_t* __restrict s = static_cast<const std::uint16_t*>(src);
  std::size_t i = 0;
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__F16C__))
  for (; i + kVec <= n; i += kVec) vec_store_f32(dst + i, vec_load_bf16(s + i));
#endif
  for (; i < n; ++i) dst[i] = bf16_to_float(s[i]);
}
inline void store_bf16(const float* __restrict src, void* dst, std::size_t n) {
  std::uint16_t* __restrict d = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__F16C__))
  for (; i + kVec <= n; i += kVec) vec_store_bf16(d + i, vec_load_f32(src + i));
#endif
  for (; i < n; ++i) d[i] = float_to_bf16(src[i]);
}

// ---------------------------------------------------------------- stochastic rounding
// The stores of stochastic_rounding=True (python/fusedoptim/_stochastic.py is the NumPy
// twin, bit for bit). Each element i of a written operand draws 32 random bits r from a
// counter-based generator, the operand's 64-bit key K (engine/multi_tensor.h's
// rounding_key: seed, step, tensor, operand) and i, the element's index in its tensor:
//   r = fmix32(fmix32(lo32(i) ^ lo32(K)) ^ (hi32(K) + hi32(i)))     (mod 2^32)
// with fmix32 murmur3's finalizer. So r depends on nothing but (K, i): not on tiles,
// chunks, threads or the ISA path.
//
// The rule, on the float32 bits u of x, a = u & 0x7fffffff (the magnitude), the sign kept:
//   bfloat16: a <= 0x7f7f0000 (the largest finite bfloat16): (a + (r >> 16)) >> 16;
//             else (beyond it, inf, NaN) round to nearest even.
//   float16:  a > 0x477fe000 (65504, the largest finite half): round to nearest even
//             (65504 below 65520, inf from there; inf; NaN).
//             a >= 0x38800000 (2^-14, a normal half): (a - (112 << 23) + (r >> 19)) >> 13.
//             a below (a subnormal half or zero): x = M * 2^-s in units of 2^-24, the
//             half's subnormal step, with M = the float's mantissa (its implicit bit
//             added for a normal float) and s = 126 - max(E, 1), E the biased exponent
//             (s in 14..125); with s' = min(s, 31): ((M >> (s - s')) + (r >> (32 - s'))) >> s'.
// That is: the bits below the cut (13 for a normal half, 16 for bfloat16, s for a
// subnormal half) plus as many uniform random bits, truncated: x becomes the upper of its
// two 16-bit neighbours with probability (x - lo) / (hi - lo), exactly, except where more
// than 31 bits are cut (|x| < 2^-31, a half subnormal range only), where the fraction is
// first truncated to 31 bits. Exact values (and zeros) are unchanged, every value rounds
// to one of its neighbours, the sign is kept. The one-value functions (fmix32,
// random_bits, float_to_bf16_sr, float_to_half_sr) are in engine/half_scalar.h.
#if defined(__AVX512F__)
inline __m512i fmix32_v(__m512i h) {
  h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int>(0x85ebca6bu)));
  h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 13));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int>(0xc2b2ae35u)));
  return _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
}
// The random bits of 16 consecutive elements whose low index words are lo .. lo + 15
// (no carry into the high word: the caller checks).
inline __m512i random_bits_v(__m512i lo, std::uint32_t key_lo, std::uint32_t key_hi_plus_i_hi) {
  const __m512i h = fmix32_v(_mm512_xor_si512(lo, _mm512_set1_epi32(static_cast<int>(key_lo))));
  return fmix32_v(_mm512_xor_si512(h, _mm512_set1_epi32(static_cast<int>(key_hi_plus_i_hi))));
}
inline __m512i bf16_sr_lanes(__m512i u, __m512i r) {
  const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
  const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x8000));
  const __m512i sr =
      _mm512_or_si512(_mm512_srli_epi32(_mm512_add_epi32(a, _mm512_srli_epi32(r, 16)), 16), sign);
  const __mmask16 big = _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x7f7f0000));
  return _mm512_mask_blend_epi32(big, sr, bf16_round_lanes(u));
}
inline __m512i half_sr_lanes(__m512 x, __m512i r) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff));
  const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x8000));
  const __m512i normal = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_sub_epi32(a, _mm512_set1_epi32(112 << 23)), _mm512_srli_epi32(r, 19)),
      13);
  const __m512i e = _mm512_srli_epi32(a, 23);
  const __mmask16 has_e = _mm512_test_epi32_mask(e, e);
  const __m512i m = _mm512_mask_or_epi32(a, has_e, _mm512_and_si512(a, _mm512_set1_epi32(0x7fffff)),
                                         _mm512_set1_epi32(0x800000));
  const __m512i s = _mm512_sub_epi32(_mm512_set1_epi32(126), _mm512_max_epu32(e, _mm512_set1_epi32(1)));
  const __m512i s1 = _mm512_min_epu32(s, _mm512_set1_epi32(31));
  const __m512i mm = _mm512_srlv_epi32(m, _mm512_sub_epi32(s, s1));  // counts > 31 give 0
  const __m512i sub = _mm512_srlv_epi32(
      _mm512_add_epi32(mm, _mm512_srlv_epi32(r, _mm512_sub_epi32(_mm512_set1_epi32(32), s1))), s1);
  const __mmask16 is_sub = _mm512_cmplt_epi32_mask(a, _mm512_set1_epi32(0x38800000));
  const __m512i sr = _mm512_or_si512(_mm512_mask_blend_epi32(is_sub, normal, sub), sign);
  const __mmask16 big = _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x477fe000));
  const __m512i rne = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return _mm512_mask_blend_epi32(big, sr, rne);
}
#elif defined(__AVX2__) && defined(__F16C__)
inline __m256i fmix32_v(__m256i h) {
  h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
  h = _mm256_mullo_epi32(h, _mm256_set1_epi32(static_cast<int>(0x85ebca6bu)));
  h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 13));
  h = _mm256_mullo_epi32(h, _mm256_set1_epi32(static_cast<int>(0xc2b2ae35u)));
  return _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
}
inline __m256i random_bits_v(__m256i lo, std::uint32_t key_lo, std::uint32_t key_hi_plus_i_hi) {
  const __m256i h = fmix32_v(_mm256_xor_si256(lo, _mm256_set1_epi32(static_cast<int>(key_lo))));
  return fmix32_v(_mm256_xor_si256(h, _mm256_set1_epi32(static_cast<int>(key_hi_plus_i_hi))));
}
inline __m256i bf16_sr_lanes(__m256i u, __m256i r) {
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000));
  const __m256i sr =
      _mm256_or_si256(_mm256_srli_epi32(_mm256_add_epi32(a, _mm256_srli_epi32(r, 16)), 16), sign);
  const __m256i big = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7f7f0000));
  return _mm256_blendv_epi8(sr, bf16_round_lanes(u), big);
}
inline __m256i half_sr_lanes(__m256 x, __m256i r) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
  const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000));
  const __m256i normal = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_sub_epi32(a, _mm256_set1_epi32(112 << 23)), _mm256_srli_epi32(r, 19)),
      13);
  const __m256i e = _mm256_srli_epi32(a, 23);
  const __m256i no_e = _mm256_cmpeq_epi32(e, _mm256_setzero_si256());
  const __m256i m = _mm256_or_si256(a, _mm256_andnot_si256(no_e, _mm256_set1_epi32(0x800000)));
  const __m256i mant = _mm256_blendv_epi8(_mm256_and_si256(m, _mm256_set1_epi32(0xffffff)), a, no_e);
  const __m256i s = _mm256_sub_epi32(_mm256_set1_epi32(126), _mm256_max_epu32(e, _mm256_set1_epi32(1)));
  const __m256i s1 = _mm256_min_epu32(s, _mm256_set1_epi32(31));
  const __m256i mm = _mm256_srlv_epi32(mant, _mm256_sub_epi32(s, s1));  // counts > 31 give 0
  const __m256i sub = _mm256_srlv_epi32(
      _mm256_add_epi32(mm, _mm256_srlv_epi32(r, _mm256_sub_epi32(_mm256_set1_epi32(32), s1))), s1);
  const __m256i is_sub = _mm256_cmpgt_epi32(_mm256_set1_epi32(0x38800000), a);
  const __m256i sr = _mm256_or_si256(_mm256_blendv_epi8(normal, sub, is_sub), sign);
  const __m256i big = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x477fe000));
  const __m256i rne = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  return _mm256_blendv_epi8(sr, rne, big);
}
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__F16C__))
// kVec consecutive values rounded stochastically: `lo` is the low index word of the
// first (the caller checks that lo + kVec - 1 does not wrap), `klo` the key's low word,
// `khi` its high word plus the index's high word (random_bits).
template <bool BF16>
inline void vec_store_sr(void* dst, VecF x, std::uint32_t lo, std::uint32_t klo, std::uint32_t khi) {
#if defined(__AVX512F__)
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i r = random_bits_v(_mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(lo)), iota), klo, khi);
  const __m512i v = BF16 ? bf16_sr_lanes(_mm512_castps_si512(x), r) : half_sr_lanes(x, r);
  _mm256_storeu_si256(static_cast<__m256i*>(dst), _mm512_cvtepi32_epi16(v));
#else
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i r = random_bits_v(_mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(lo)), iota), klo, khi);
  const __m256i v = BF16 ? bf16_sr_lanes(_mm256_castps_si256(x), r) : half_sr_lanes(x, r);
  _mm_storeu_si128(static_cast<__m128i*>(dst), pack_lanes(v));
#endif
}
#endif

// One value rounded stochastically: element `index` of its tensor, with the operand's key.
template <bool BF16>
inline std::uint16_t round_sr(float x, std::uint64_t key, std::uint64_t index) {
  const std::uint32_t r = random_bits(key, index);
  return BF16 ? float_to_bf16_sr(x, r) : float_to_half_sr(x, r);
}

// n values rounded stochastically with the operand's key; `first`: the tensor index of
// src[0]. One loop for both 16-bit types (BF16: bfloat16, else float16).
template <bool BF16>
inline void store_sr(const float* __restrict src, void* dst, std::size_t n, std::uint64_t key,
                     std::uint64_t first) {
  std::uint16_t* __restrict d = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__F16C__))
  // Vectors while the low index word does not wrap (it never does within a tile).
  const std::uint32_t lo0 = static_cast<std::uint32_t>(first);
  const std::uint64_t no_wrap = (std::uint64_t(1) << 32) - lo0;
  const std::size_t vec_end = n < no_wrap ? n : static_cast<std::size_t>(no_wrap);
  const std::uint32_t klo = static_cast<std::uint32_t>(key);
  const std::uint32_t khi = static_cast<std::uint32_t>(key >> 32) + static_cast<std::uint32_t>(first >> 32);
  for (; i + kVec <= vec_end; i += kVec)
    vec_store_sr<BF16>(d + i, vec_load_f32(src + i), lo0 + static_cast<std::uint32_t>(i), klo, khi);
#endif
  for (; i < n; ++i) d[i] = round_sr<BF16>(src[i], key, first + i);
}
inline void store_f16_sr(const float* __restrict src, void* dst, std::size_t n, std::uint64_t key,
                         std::uint64_t first) {
  store_sr<false>(src, dst, n, key, first);
}
inline void store_bf16_sr(const float* __restrict src, void* dst, std::size_t n, std::uint64_t key,
                          std::uint64_t first) {
  store_sr<true>(src, dst, n, key, first);
}

}  // namespace FO_ISA
}  // namespace fusedoptim
