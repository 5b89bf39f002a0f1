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

#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifndef FO_ISA
#error "half_convert.h is compiled only from files that define FO_ISA (csrc/isa/)"
#endif

namespace fusedoptim {
namespace FO_ISA {

inline std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float float_of(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// binary16 -> binary32, exact (every half is a float).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = h & 0x7c00u;
  const std::uint32_t mant = h & 0x03ffu;
  // Normal: rebias the exponent (15 -> 127) and widen the mantissa.
  const std::uint32_t normal = ((exp + ((127 - 15) << 10)) | mant) << 13;
  // inf / NaN: all-ones exponent, the mantissa kept (NaN quieted).
  const std::uint32_t special = 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0u);
  // Zero / subnormal: mant * 2^-24, exact in float.
  const std::uint32_t sub = bits_of(static_cast<float>(mant) * 5.9604644775390625e-8f);
  std::uint32_t out = exp == 0x7c00u ? special : normal;
  out = exp == 0 ? sub : out;
  return float_of(out | sign);
}

// binary32 -> binary16, round to nearest even.
inline std::uint16_t float_to_half(float f) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t a = u & 0x7fffffffu;
  // Normal results: rebias, add the rounding bias (half an ulp minus one, plus the
  // lowest kept bit for ties to even), drop 13 bits. A carry into the exponent is the
  // right result, up to rounding to inf past 65504.
  const std::uint32_t odd = (a >> 13) & 1u;
  std::uint32_t normal = (a - ((127u - 15u) << 23) + 0x0fffu + odd) >> 13;
  normal = normal > 0x7c00u ? 0x7c00u : normal;
  // Subnormal and zero results (|f| < 2^-14): add 0.5 (2^-1), whose ulp is 2^-24, the
  // half subnormal step; the float addition rounds to nearest even for us.
  const std::uint32_t sub = bits_of(float_of(a) + 0.5f) - 0x3f000000u;
  std::uint32_t out = a < 0x38800000u ? sub : normal;
  out = a >= 0x47800000u ? 0x7c00u : out;            // >= 2^16: inf
  out = a > 0x7f800000u ? (0x7e00u | ((a >> 13) & 0x3ffu)) : out;  // NaN, quiet
  return static_cast<std::uint16_t>(out | sign);
}

// bfloat16 -> float32: the high half of the float's bits.
inline float bf16_to_float(std::uint16_t h) { return float_of(static_cast<std::uint32_t>(h) << 16); }

// float32 -> bfloat16, round to nearest even; NaN stays NaN (quiet bit set).
inline std::uint16_t float_to_bf16(float f) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const std::uint32_t nan = (u >> 16) | 0x0040u;
  return static_cast<std::uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

#if defined(__AVX512F__)
constexpr std::size_t kVec = 16;
// 16 floats -> 16 bfloat16 (as float_to_bf16).
inline __m256i bf16_round(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded =
      _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb), 16);
  const __m512i nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
  const __mmask16 is_nan = _mm512_cmpgt_epu32_mask(
      _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
  return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(is_nan, rounded, nan));
}
#elif defined(__AVX2__) && defined(__F16C__)
constexpr std::size_t kVec = 8;
// 8 floats -> 8 bfloat16 (as float_to_bf16).
inline __m128i bf16_round(__m256 x) {
  const __m256i u = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i rounded =
      _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), lsb), 16);
  const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
  const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                            _mm256_set1_epi32(0x7f800000));
  const __m256i r = _mm256_blendv_epi8(rounded, nan, is_nan);
  return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
}
#else
constexpr std::size_t kVec = 0;  // the scalar loops only
#endif

inline void load_f16(const void* src, float* __restrict dst, std::size_t n) {
  const std::uint16_t* __restrict s = static_cast<const std::uint16_t*>(src);
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + kVec <= n; i += kVec)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + i))));
#elif defined(__AVX2__) && defined(__F16C__)
  for (; i + kVec <= n; i += kVec)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
#endif
  for (; i < n; ++i) dst[i] = half_to_float(s[i]);
}
inline void store_f16(const float* __restrict src, void* dst, std::size_t n) {
  std::uint16_t* __restrict d = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + kVec <= n; i += kVec)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif defined(__AVX2__) && defined(__F16C__)
  for (; i + kVec <= n; i += kVec)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
  for (; i < n; ++i) d[i] = float_to_half(src[i]);
}
inline void load_bf16(const void* src, float* __restrict dst, std::size_t n) {
  const std::uint16_t* __restrict s = static_cast<const std::uint16_t*>(src);
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + kVec <= n; i += kVec)
    _mm512_storeu_si512(dst + i, _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(
                                     reinterpret_cast<const __m256i*>(s + i))), 16));
#elif defined(__AVX2__) && defined(__F16C__)
  for (; i + kVec <= n; i += kVec)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(
                                              reinterpret_cast<const __m128i*>(s + i))), 16));
#endif
  for (; i < n; ++i) dst[i] = bf16_to_float(s[i]);
}
inline void store_bf16(const float* __restrict src, void* dst, std::size_t n) {
  std::uint16_t* __restrict d = static_cast<std::uint16_t*>(dst);
  std::size_t i = 0;
#if defined(__AVX512F__)
  for (; i + kVec <= n; i += kVec)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), bf16_round(_mm512_loadu_ps(src + i)));
#elif defined(__AVX2__) && defined(__F16C__)
  for (; i + kVec <= n; i += kVec)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), bf16_round(_mm256_loadu_ps(src + i)));
#endif
  for (; i < n; ++i) d[i] = float_to_bf16(src[i]);
}

}  // namespace FO_ISA
}  // namespace fusedoptim
