// The kernels of the 8-bit blockwise optimizers (formulas: optimizers/blockwise8.h),
// compiled once per ISA by isa/blockwise8_table.inc with -ffp-contract=off: every fma
// here is explicit, every other op rounded on its own, so each path computes the same
// bits. An 8-bit run is done block by block in one pass: the block's codes are
// dequantized, the moments and the param updated, the new moments kept in a stack
// tile of 256 values (L1) while their absmax is found, then requantized. Whole blocks
// take the intrinsics path of the ISA (AVX-512 or AVX2), a tensor's last partial block
// and every block of the scalar path the plain C++ one.
// The AVX-512 VBMI build (isa/blockwise8_avx512vbmi.cpp, FO_Q8_VBMI) replaces both table
// gathers, the cost of the others (per 16 values: 2 qmap gathers, 2 gathers from the
// 64 KiB quantizer table): a block's 256 codes are dequantized into its tile by byte
// permutes of the map's 4 byte planes (deq_tile), and requantized by a binary search
// over the map's 255 bin thresholds in word-permute tables (search32, blockwise8.h),
// where the map allows it (else by the table gather).
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

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

// ---------------------------------------------------------------- plain C++, per value

inline float fused(float a, float b, float c) { return std::fma(a, b, c); }

// np.sign: 1, -1, NaN for NaN, +0 otherwise.
inline float sign_np(float x) {
  if (x > 0.0f) return 1.0f;
  if (x < 0.0f) return -1.0f;
  return x != x ? x : 0.0f;
}

inline uint8_t code_of(float x, float inv, const uint8_t* lut) {
  float s = x * inv;
  // NaN (0 * inf: a subnormal absmax makes inv inf) goes to -1 (bin 0), as the SIMD
  // clamp (max_ps returns its second operand for a NaN) and the reference's cast do.
  s = s >= -1.0f ? s : -1.0f;
  s = s > 1.0f ? 1.0f : s;
  const float h = (s + 1.0f) * 0.5f;
  return lut[static_cast<int>(fused(h, 65535.0f, 0.5f))];
}

// Whether a block with this absmax gets codes (0 < absmax < inf; false for NaN).
inline bool codable(float absmax) { return absmax > 0.0f && absmax <= 3.40282347e+38f; }

// Requantizes x[0, len) into codes and *absmax.
inline void requantize(const float* x, std::size_t len, uint8_t* codes, float* absmax,
                       const uint8_t* lut) {
  float mx = 0.0f;
  bool nan = false;
  for (std::size_t i = 0; i < len; ++i) {
    const float a = std::fabs(x[i]);
    nan = nan || a != a;
    mx = a > mx ? a : mx;
  }
  if (nan) mx = __builtin_nanf("");
  *absmax = mx;
  if (!codable(mx)) {
    std::memset(codes, 0, len);
    return;
  }
  const float inv = 1.0f / mx;
  for (std::size_t i = 0; i < len; ++i) codes[i] = code_of(x[i], inv, lut);
}

// One block of len <= 256 values, plain C++.
template <bool DECAY>
void adam_block(const Q8Run& r, std::size_t off, std::size_t blk, std::size_t len,
                const Q8Const& k, const Q8Maps& mp) {
  float m[kBlock], v[kBlock];
  float* p = r.p + off;
  const float* g = r.g + off;
  const uint8_t* c1 = r.c1 + off;
  const uint8_t* c2 = r.c2 + off;
  const float am = r.a1[blk], av = r.a2[blk];
  for (std::size_t i = 0; i < len; ++i) {
    const float gi = g[i];
    float mi = mp.q1[c1[i]] * am, vi = mp.q2[c2[i]] * av;
    mi = fused(gi, k.omb1, mi * k.b1);
    vi = fused(k.omb2 * gi, gi, vi * k.b2);
    const float d = std::sqrt(vi) / k.c2 + k.eps;
    float pi = p[i];
    if (DECAY) pi = pi * k.decay;
    p[i] = pi + (k.lr_c1 * mi) / d;
    m[i] = mi;
    v[i] = vi;
  }
  requantize(m, len, r.c1 + off, r.a1 + blk, mp.lut1);
  requantize(v, len, r.c2 + off, r.a2 + blk, mp.lut2);
}

template <bool FIRST>
void momentum_block(const Q8Run& r, std::size_t off, std::size_t blk, std::size_t len,
                    const Q8Const& k, const Q8Maps& mp) {
  float b[kBlock];
  float* p = r.p + off;
  const float* g = r.g + off;
  const uint8_t* c1 = r.c1 + off;
  const float am = r.a1[blk];
  for (std::size_t i = 0; i < len; ++i) {
    const float pi = p[i];
    const float gi = fused(pi, k.wd, g[i]);
    const float bi = FIRST ? gi : (mp.q1[c1[i]] * am) * k.momentum + gi;
    p[i] = fused(bi, k.neg_lr, pi);
    b[i] = bi;
  }
  requantize(b, len, r.c1 + off, r.a1 + blk, mp.lut1);
}

template <bool DECAY>
void lion_block(const Q8Run& r, std::size_t off, std::size_t blk, std::size_t len,
                const Q8Const& k, const Q8Maps& mp) {
  float m[kBlock];
  float* p = r.p + off;
  const float* g = r.g + off;
  const uint8_t* c1 = r.c1 + off;
  const float am = r.a1[blk];
  for (std::size_t i = 0; i < len; ++i) {
    const float gi = g[i];
    const float mi = mp.q1[c1[i]] * am;
    float pi = p[i];
    if (DECAY) pi = pi * k.decay;
    const float u = sign_np(mi * k.b1 + gi * k.omb1);
    p[i] = fused(u, k.neg_lr, pi);
    m[i] = fused(gi, k.omb2, mi * k.b2);
  }
  requantize(m, len, r.c1 + off, r.a1 + blk, mp.lut1);
}

// ---------------------------------------------------------------- intrinsics, whole blocks

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
inline __m512i bins(vf x, vf inv) {
  vf s = mul(x, inv);
  s = vmin(vmax(s, bc(-1.0f)), bc(1.0f));
  const vf h = mul(add(s, bc(1.0f)), bc(0.5f));
  return _mm512_cvttps_epi32(fma(h, bc(65535.0f), bc(0.5f)));
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
inline __m256i bins(vf x, vf inv) {
  vf s = mul(x, inv);
  s = vmin(vmax(s, bc(-1.0f)), bc(1.0f));
  const vf h = mul(add(s, bc(1.0f)), bc(0.5f));
  return _mm256_cvttps_epi32(fma(h, bc(65535.0f), bc(0.5f)));
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

// The new absmax of a tile from its running max and NaN flags, then its codes.
inline void finish(const float* x, vf mx, vnan nan, uint8_t* codes, float* absmax,
                   const uint8_t* lut, const uint16_t* srch, const uint8_t* rev) {
  const float a = nan_any(nan) ? __builtin_nanf("") : hmax(mx);
  *absmax = a;
  if (!codable(a)) {
    std::memset(codes, 0, kBlock);
    return;
  }
  const float inv = 1.0f / a;
  const bool clamp = !(inv <= 3.40282347e+38f);  // a subnormal absmax: inv = inf
#ifdef FO_Q8_VBMI
  if (srch) {
    clamp ? quantize_search<true>(x, inv, srch, rev, codes)
          : quantize_search<false>(x, inv, srch, rev, codes);
    return;
  }
#endif
  (void)srch;
  (void)rev;
  clamp ? quantize<true>(x, inv, lut, codes) : quantize<false>(x, inv, lut, codes);
}

// Before a block's loop: its codes dequantized into tile (byte-permute path only); then
// deq_at gives qmap[c[0..W)] from the tile or by a gather.
inline void pre_deq(const uint8_t* c, const uint8_t* planes, float* tile) {
#ifdef FO_Q8_VBMI
  deq_tile(c, planes, tile);
#else
  (void)c, (void)planes, (void)tile;
#endif
}
inline vf deq_at(const float* tile, const uint8_t* c, const float* q) {
#ifdef FO_Q8_VBMI
  (void)c, (void)q;
  return ld(tile);
#else
  (void)tile;
  return deq(c, q);
#endif
}


template <bool DECAY>
void adam_block_simd(const Q8Run& r, std::size_t off, std::size_t blk, const Q8Const& k,
                     const Q8Maps& mp) {
  alignas(64) float mt[kBlock];
  alignas(64) float vt[kBlock];
  float* p = r.p + off;
  const float* g = r.g + off;
  const uint8_t* c1 = r.c1 + off;
  const uint8_t* c2 = r.c2 + off;
  const vf am = bc(r.a1[blk]), av = bc(r.a2[blk]);
  const vf b1 = bc(k.b1), omb1 = bc(k.omb1), b2 = bc(k.b2), omb2 = bc(k.omb2), c2v = bc(k.c2),
           eps = bc(k.eps), lr = bc(k.lr_c1), decay = bc(k.decay);
  vf mxm = vzero(), mxv = mxm;
  vnan nm = nan_none(), nv = nan_none();
  pre_deq(c1, mp.planes1, mt);
  pre_deq(c2, mp.planes2, vt);
  for (std::size_t i = 0; i < kBlock; i += W) {
    const vf gi = ld(g + i);
    vf mi = mul(deq_at(mt + i, c1 + i, mp.q1), am), vi = mul(deq_at(vt + i, c2 + i, mp.q2), av);
    mi = fma(gi, omb1, mul(mi, b1));
    vi = fma(mul(omb2, gi), gi, mul(vi, b2));
    const vf d = add(dvd(vsqrt(vi), c2v), eps);
    vf pi = ld(p + i);
    if (DECAY) pi = mul(pi, decay);
    st(p + i, add(pi, dvd(mul(lr, mi), d)));
    st(mt + i, mi);
    st(vt + i, vi);
    mxm = vmax(vabs(mi), mxm);
    mxv = vmax(vabs(vi), mxv);
    nm = nan_or(nm, mi);
    nv = nan_or(nv, vi);
  }
  finish(mt, mxm, nm, r.c1 + off, r.a1 + blk, mp.lut1, mp.search1, mp.rev);
  finish(vt, mxv, nv, r.c2 + off, r.a2 + blk, mp.lut2, mp.search2, mp.rev);
}

template <bool FIRST>
void momentum_block_simd(const Q8Run& r, std::size_t off, std::size_t blk, const Q8Const& k,
                         const Q8Maps& mp) {
  alignas(64) float bt[kBlock];
  float* p = r.p + off;
  const float* g = r.g + off;
  const uint8_t* c1 = r.c1 + off;
  const vf am = bc(r.a1[blk]), wd = bc(k.wd), mom = bc(k.momentum), lr = bc(k.neg_lr);
  vf mx = vzero();
  vnan nb = nan_none();
  if (!FIRST) pre_deq(c1, mp.planes1, bt);
  for (std::size_t i = 0; i < kBlock; i += W) {
    const vf pi = ld(p + i);
    const vf gi = fma(pi, wd, ld(g + i));
    const vf bi = FIRST ? gi : add(mul(mul(deq_at(bt + i, c1 + i, mp.q1), am), mom), gi);
    st(p + i, fma(bi, lr, pi));
    st(bt + i, bi);
    mx = vmax(vabs(bi), mx);
    nb = nan_or(nb, bi);
  }
  finish(bt, mx, nb, r.c1 + off, r.a1 + blk, mp.lut1, mp.search1, mp.rev);
}

template <bool DECAY>
void lion_block_simd(const Q8Run& r, std::size_t off, std::size_t blk, const Q8Const& k,
                     const Q8Maps& mp) {
  alignas(64) float mt[kBlock];
  float* p = r.p + off;
  const float* g = r.g + off;
  const uint8_t* c1 = r.c1 + off;
  const vf am = bc(r.a1[blk]), b1 = bc(k.b1), omb1 = bc(k.omb1), b2 = bc(k.b2),
           omb2 = bc(k.omb2), lr = bc(k.neg_lr), decay = bc(k.decay);
  vf mx = vzero();
  vnan nb = nan_none();
  pre_deq(c1, mp.planes1, mt);
  for (std::size_t i = 0; i < kBlock; i += W) {
    const vf gi = ld(g + i);
    const vf mi = mul(deq_at(mt + i, c1 + i, mp.q1), am);
    vf pi = ld(p + i);
    if (DECAY) pi = mul(pi, decay);
    const vf u = sign(add(mul(mi, b1), mul(gi, omb1)));
    st(p + i, fma(u, lr, pi));
    const vf mn = fma(gi, omb2, mul(mi, b2));
    st(mt + i, mn);
    mx = vmax(vabs(mn), mx);
    nb = nan_or(nb, mn);
  }
  finish(mt, mx, nb, r.c1 + off, r.a1 + blk, mp.lut1, mp.search1, mp.rev);
}
#endif  // AVX-512 or AVX2

// ---------------------------------------------------------------- runs of blocks

#ifdef FO_Q8_SIMD
#define FO_Q8_WHOLE(name, flag)                  \
  if (len == kBlock) {                           \
    name##_block_simd<flag>(r, off, b, k, mp);   \
    continue;                                    \
  }
#else
#define FO_Q8_WHOLE(name, flag)
#endif

#define FO_Q8_RUN(name)                                                              \
  template <bool FLAG>                                                               \
  void name##_run_t(const Q8Run& r, const Q8Const& k, const Q8Maps& mp) {            \
    for (std::size_t off = 0, b = 0; off < r.n; off += kBlock, ++b) {                \
      const std::size_t len = r.n - off < kBlock ? r.n - off : kBlock;               \
      FO_Q8_WHOLE(name, FLAG)                                                        \
      name##_block<FLAG>(r, off, b, len, k, mp);                                     \
    }                                                                                \
  }

FO_Q8_RUN(adam)
FO_Q8_RUN(momentum)
FO_Q8_RUN(lion)
#undef FO_Q8_RUN
#undef FO_Q8_WHOLE

void adam_q8(const Q8Run& r, const Q8Const& k, const Q8Maps& mp) {
  k.use_decay ? adam_run_t<true>(r, k, mp) : adam_run_t<false>(r, k, mp);
}
void momentum_q8(const Q8Run& r, const Q8Const& k, const Q8Maps& mp) {
  k.first ? momentum_run_t<true>(r, k, mp) : momentum_run_t<false>(r, k, mp);
}
void lion_q8(const Q8Run& r, const Q8Const& k, const Q8Maps& mp) {
  k.use_decay ? lion_run_t<true>(r, k, mp) : lion_run_t<false>(r, k, mp);
}

// ---------------------------------------------------------------- float32 moments

template <bool DECAY>
void adam32_t(const F32Run& r, const Q8Const& k) {
  float* __restrict p = r.p;
  const float* __restrict g = r.g;
  float* __restrict m = r.s1;
  float* __restrict v = r.s2;
  for (std::size_t i = 0; i < r.n; ++i) {
    const float gi = g[i];
    const float mi = fused(gi, k.omb1, m[i] * k.b1);
    const float vi = fused(k.omb2 * gi, gi, v[i] * k.b2);
    m[i] = mi;
    v[i] = vi;
    const float u = mi / (std::sqrt(vi) + k.eps_c2);
    float pi = p[i];
    if (DECAY) pi = pi * k.decay;
    p[i] = fused(u, k.step_size, pi);
  }
}

template <bool DECAY, bool FIRST>
void momentum32_t(const F32Run& r, const Q8Const& k) {
  float* __restrict p = r.p;
  const float* __restrict g = r.g;
  float* __restrict b = r.s1;
  for (std::size_t i = 0; i < r.n; ++i) {
    const float pi = p[i];
    float gi = g[i];
    if (DECAY) gi = fused(pi, k.wd, gi);
    const float bi = FIRST ? gi : b[i] * k.momentum + gi;
    b[i] = bi;
    p[i] = fused(bi, k.neg_lr, pi);
  }
}

template <bool DECAY>
void lion32_t(const F32Run& r, const Q8Const& k) {
  float* __restrict p = r.p;
  const float* __restrict g = r.g;
  float* __restrict m = r.s1;
  for (std::size_t i = 0; i < r.n; ++i) {
    const float gi = g[i], mi = m[i];
    float pi = p[i];
    if (DECAY) pi = pi * k.decay;
    const float x = fused(gi, k.omb1, mi * k.b1);
    const float u = x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (x != x ? x : 0.0f));
    p[i] = fused(u, k.neg_lr, pi);
    m[i] = fused(gi, k.omb2, mi * k.b2);
  }
}

void adam_f32(const F32Run& r, const Q8Const& k) {
  k.use_decay ? adam32_t<true>(r, k) : adam32_t<false>(r, k);
}
void momentum_f32(const F32Run& r, const Q8Const& k) {
  if (k.use_decay)
    k.first ? momentum32_t<true, true>(r, k) : momentum32_t<true, false>(r, k);
  else
    k.first ? momentum32_t<false, true>(r, k) : momentum32_t<false, false>(r, k);
}
void lion_f32(const F32Run& r, const Q8Const& k) {
  k.use_decay ? lion32_t<true>(r, k) : lion32_t<false>(r, k);
}

constexpr Blockwise8Kernels kernels() {
  return {{&adam_q8, &momentum_q8, &lion_q8}, {&adam_f32, &momentum_f32, &lion_f32}};
}

}  // namespace q8
}  // namespace FO_ISA
}  // namespace fusedoptim
