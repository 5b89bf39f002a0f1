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
#include "optimizers/blockwise8_simd.h"

#ifndef FO_ISA
#error "kernel headers are compiled only from files that define FO_ISA (csrc/isa/)"
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
// (the vector pieces: optimizers/blockwise8_simd.h)

#ifdef FO_Q8_SIMD
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
