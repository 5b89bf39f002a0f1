// The vector pieces of the 8-bit blockwise kernels (optimizers/blockwise8_kernels.h), for
// the ISA of the including file: the AVX-512 or AVX2 wrappers the block kernels are
// written with (one name per operation, so the kernels are written once), the bins of
// the quantizer (shared), the table-gather quantization of each ISA and, with AVX-512
// VBMI, the byte-permute dequantization and the binary-search quantization. Defines
// FO_Q8_SIMD (and FO_Q8_VBMI) where they exist; nothing for the scalar path.
#pragma once
#include <cstddef>
#include <cstdint>

#include "optimizers/blockwise8.h"

#ifndef FO_ISA
#error "kernel headers are compiled only from files that define FO_ISA (csrc/isa/)"
#endif

#if defined(__AVX512F__) || defined(__AVX2__)
#include <immintrin.h>
#endif

namespace fusedoptim {
namespace FO_ISA {
namespace q8 {

using blockwise8::kBlock;
using std::uint8_t;
using std::uint16_t;

#if defined(__AVX512F__) || defined(__AVX2__)
#define FO_Q8_SIMD 1

#if defined(__AVX512F__)
constexpr int W = 16;
using vf = __m512;
using vnan = __mmask16;
inline vf ld(const float* p) { return _mm512_loadu_ps(p); }
inline void st(float* p, vf x) { _mm512_storeu_ps(p, x); }
inline vf bc(float x) { return _mm512_set1_ps(x); }
inline vf vzero() { return _mm512_setzero_ps(); }
inline vf mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf add(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf dvd(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf vsqrt(vf a) { return _mm512_sqrt_ps(a); }
inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
inline vf vabs(vf a) { return _mm512_abs_ps(a); }
inline vnan nan_none() { return 0; }
inline vnan nan_or(vnan acc, vf x) { return acc | _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q); }
inline bool nan_any(vnan acc) { return acc != 0; }
inline float hmax(vf x) { return _mm512_reduce_max_ps(x); }
// qmap[codes[0..16)]
inline vf deq(const uint8_t* c, const float* q) {
  const __m512i idx = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c)));
  return _mm512_i32gather_ps(idx, q, 4);
}
inline vf sign(vf x) {
  const vf zero = _mm512_setzero_ps();
  vf r = _mm512_mask_mov_ps(zero, _mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), bc(1.0f));
  r = _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), bc(-1.0f));
  return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}
using vi32 = __m512i;
inline vi32 cvtt(vf x) { return _mm512_cvttps_epi32(x); }
#else
constexpr int W = 8;
using vf = __m256;
using vnan = __m256;
inline vf ld(const float* p) { return _mm256_loadu_ps(p); }
inline void st(float* p, vf x) { _mm256_storeu_ps(p, x); }
inline vf bc(float x) { return _mm256_set1_ps(x); }
inline vf vzero() { return _mm256_setzero_ps(); }
inline vf mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf add(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf dvd(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vsqrt(vf a) { return _mm256_sqrt_ps(a); }
inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf vabs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
inline vnan nan_none() { return _mm256_setzero_ps(); }
inline vnan nan_or(vnan acc, vf x) { return _mm256_or_ps(acc, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); }
inline bool nan_any(vnan acc) { return _mm256_movemask_ps(acc) != 0; }
inline float hmax(vf x) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
inline vf deq(const uint8_t* c, const float* q) {
  const __m256i idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c)));
  return _mm256_i32gather_ps(q, idx, 4);
}
inline vf sign(vf x) {
  const vf zero = _mm256_setzero_ps();
  vf r = _mm256_and_ps(_mm256_cmp_ps(x, zero, _CMP_GT_OQ), bc(1.0f));
  r = _mm256_blendv_ps(r, bc(-1.0f), _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
  return _mm256_blendv_ps(r, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}
using vi32 = __m256i;
inline vi32 cvtt(vf x) { return _mm256_cvttps_epi32(x); }
#endif

// The 16-bit bin of x * inv on bitsandbytes' grid over [-1, 1]: j = trunc((clamp(x * inv, -1, 1)
// + 1) * 0.5 * 65535 + 0.5), the last multiply-add fused.
inline vi32 bins(vf x, vf inv) {
  vf s = mul(x, inv);
  s = vmin(vmax(s, bc(-1.0f)), bc(1.0f));
  const vf h = mul(add(s, bc(1.0f)), bc(0.5f));
  return cvtt(fma(h, bc(65535.0f), bc(0.5f)));
}
// The bins of x * inv (as bins()) where inv = 1 / absmax is finite and |x| <= absmax:
// then x * inv rounds into [-1, 1] (|x * inv| <= 1 + 2^-24 before rounding), so the
// clamp is a no-op, and (s + 1) * 0.5 is exact, so fma(h, 65535, 0.5) =
// fma(s + 1, 32767.5, 0.5).
inline vi32 bins_unclamped(vf x, vf inv) {
  return cvtt(fma(add(mul(x, inv), bc(1.0f)), bc(32767.5f), bc(0.5f)));
}
// CLAMP: inv may be inf (a subnormal absmax).
template <bool CLAMP>
inline vi32 jbins(vf x, vf inv) {
  return CLAMP ? bins(x, inv) : bins_unclamped(x, inv);
}

#if defined(__AVX512F__)
// codes of x[0..256) with 1 / absmax = inv.
template <bool CLAMP>
inline void quantize(const float* x, float inv_s, const uint8_t* lut, uint8_t* codes) {
  const vf inv = bc(inv_s);
  const __m512i low = _mm512_set1_epi32(0xFF);
  for (std::size_t i = 0; i < kBlock; i += 16) {
    const __m512i j = jbins<CLAMP>(ld(x + i), inv);
    const __m512i c = _mm512_and_si512(_mm512_i32gather_epi32(j, lut, 1), low);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(codes + i), _mm512_cvtepi32_epi8(c));
  }
}
#if defined(__AVX512VBMI__) && defined(__AVX512BW__)
#define FO_Q8_VBMI 1
// Dequantization by byte permutes: qmap[codes[0..256)] into out (qmap as 4 byte planes,
// blockwise8.h). Per 64 codes: each plane's byte of qmap[code] by two 128-byte permutes
// (low 7 bits) chosen by bit 7, then the planes interleaved bytes -> words -> dwords.
// The unpacks work within 128-bit lanes: the codes are first permuted so that they
// come out in order (byte L*16 + a*8 + b*4 + e of the permuted codes is value
// 16 (2a + b) + 4L + e).
inline void deq_tile(const uint8_t* c, const uint8_t* planes, float* out) {
  alignas(64) static constexpr uint8_t kOrder[64] = {
      0,  1,  2,  3,  16, 17, 18, 19, 32, 33, 34, 35, 48, 49, 50, 51,
      4,  5,  6,  7,  20, 21, 22, 23, 36, 37, 38, 39, 52, 53, 54, 55,
      8,  9,  10, 11, 24, 25, 26, 27, 40, 41, 42, 43, 56, 57, 58, 59,
      12, 13, 14, 15, 28, 29, 30, 31, 44, 45, 46, 47, 60, 61, 62, 63};
  const __m512i order = _mm512_load_si512(kOrder);
  __m512i t[4][4];
  for (int b = 0; b < 4; ++b)
    for (int h = 0; h < 4; ++h) t[b][h] = _mm512_load_si512(planes + b * 256 + h * 64);
  for (std::size_t i = 0; i < kBlock; i += 64) {
    const __m512i x = _mm512_permutexvar_epi8(order, _mm512_loadu_si512(c + i));
    const __mmask64 hi = _mm512_movepi8_mask(x);
    __m512i pl[4];
    for (int b = 0; b < 4; ++b)
      pl[b] = _mm512_mask_blend_epi8(hi, _mm512_permutex2var_epi8(t[b][0], x, t[b][1]),
                                     _mm512_permutex2var_epi8(t[b][2], x, t[b][3]));
    const __m512i w01l = _mm512_unpacklo_epi8(pl[0], pl[1]), w01h = _mm512_unpackhi_epi8(pl[0], pl[1]);
    const __m512i w23l = _mm512_unpacklo_epi8(pl[2], pl[3]), w23h = _mm512_unpackhi_epi8(pl[2], pl[3]);
    _mm512_store_si512(out + i, _mm512_unpacklo_epi16(w01l, w23l));
    _mm512_store_si512(out + i + 16, _mm512_unpackhi_epi16(w01l, w23l));
    _mm512_store_si512(out + i + 32, _mm512_unpacklo_epi16(w01h, w23h));
    _mm512_store_si512(out + i + 48, _mm512_unpackhi_epi16(w01h, w23h));
  }
}

// The codes of 32 bins (uint16): the 8-step binary search of blockwise8.h; the result
// has its 8 bits reversed (bit u = step u's decision).
inline __m512i search32(__m512i j, const uint16_t* s) {
  using blockwise8::kSearchOffset;
  const __m512i* v = reinterpret_cast<const __m512i*>(s);
  __m512i r = _mm512_maskz_mov_epi16(
      _mm512_cmple_epu16_mask(_mm512_set1_epi16(static_cast<short>(s[0])), j), _mm512_set1_epi16(1));
  for (int t = 1; t < 6; ++t) {
    const __m512i th = _mm512_permutexvar_epi16(r, _mm512_load_si512(v + kSearchOffset[t] / 32));
    r = _mm512_mask_add_epi16(r, _mm512_cmple_epu16_mask(th, j), r, _mm512_set1_epi16(static_cast<short>(1 << t)));
  }
  {
    const __m512i th = _mm512_permutex2var_epi16(_mm512_load_si512(v + 6), r, _mm512_load_si512(v + 7));
    r = _mm512_mask_add_epi16(r, _mm512_cmple_epu16_mask(th, j), r, _mm512_set1_epi16(64));
  }
  const __m512i lo = _mm512_permutex2var_epi16(_mm512_load_si512(v + 8), r, _mm512_load_si512(v + 9));
  const __m512i hi = _mm512_permutex2var_epi16(_mm512_load_si512(v + 10), r, _mm512_load_si512(v + 11));
  const __m512i th = _mm512_mask_blend_epi16(_mm512_test_epi16_mask(r, _mm512_set1_epi16(64)), lo, hi);
  return _mm512_mask_add_epi16(r, _mm512_cmple_epu16_mask(th, j), r, _mm512_set1_epi16(128));
}

// 64 codes from 4 x 16 bins by the binary search (packus leaves lane L of the bytes as
// dwords [j0, j1, j2, j3][4L..4L+4): the last permute puts them back).
inline __m512i codes64(__m512i j0, __m512i j1, __m512i j2, __m512i j3, const uint16_t* srch,
                       const uint8_t* rev) {
  const __m512i fix = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i a = search32(_mm512_packus_epi32(j0, j1), srch);
  const __m512i b = search32(_mm512_packus_epi32(j2, j3), srch);
  const __m512i q = _mm512_packus_epi16(a, b);
  const __m512i c = _mm512_mask_blend_epi8(
      _mm512_movepi8_mask(q), _mm512_permutex2var_epi8(_mm512_load_si512(rev), q, _mm512_load_si512(rev + 64)),
      _mm512_permutex2var_epi8(_mm512_load_si512(rev + 128), q, _mm512_load_si512(rev + 192)));
  return _mm512_permutexvar_epi32(fix, c);
}

// codes of x[0..256) with 1 / absmax = inv, by the binary search (no table gather).
template <bool CLAMP>
inline void quantize_search(const float* x, float inv_s, const uint16_t* srch, const uint8_t* rev,
                            uint8_t* codes) {
  const vf inv = bc(inv_s);
  for (std::size_t i = 0; i < kBlock; i += 64)
    _mm512_storeu_si512(codes + i, codes64(jbins<CLAMP>(ld(x + i), inv), jbins<CLAMP>(ld(x + i + 16), inv),
                                           jbins<CLAMP>(ld(x + i + 32), inv),
                                           jbins<CLAMP>(ld(x + i + 48), inv), srch, rev));
}
#endif
#else
template <bool CLAMP>
inline __m256i lookup(const float* x, vf inv, const uint8_t* lut) {
  const __m256i j = jbins<CLAMP>(ld(x), inv);
  return _mm256_and_si256(_mm256_i32gather_epi32(reinterpret_cast<const int*>(lut), j, 1),
                          _mm256_set1_epi32(0xFF));
}
template <bool CLAMP>
inline void quantize(const float* x, float inv_s, const uint8_t* lut, uint8_t* codes) {
  const vf inv = bc(inv_s);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (std::size_t i = 0; i < kBlock; i += 32) {
    const __m256i a = lookup<CLAMP>(x + i, inv, lut), b = lookup<CLAMP>(x + i + 8, inv, lut);
    const __m256i c = lookup<CLAMP>(x + i + 16, inv, lut), d = lookup<CLAMP>(x + i + 24, inv, lut);
    const __m256i ab = _mm256_packus_epi32(a, b), cd = _mm256_packus_epi32(c, d);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(codes + i), bytes);
  }
}
#endif
#endif  // AVX-512 or AVX2

}  // namespace q8
}  // namespace FO_ISA
}  // namespace fusedoptim
