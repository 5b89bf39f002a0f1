// The 8-bit blockwise optimizers' CUDA kernel body (formulas: optimizers/blockwise8.h),
// the host kernels' arithmetic bit for bit: every float32 op rounded on its own, fma only
// where the host has one (nvcc's __fmul_rn, __fadd_rn, __fdiv_rn, __fsqrt_rn, __fmaf_rn,
// which are never contracted; on the host, plain operators in a file compiled with
// -ffp-contract=off), and a code for each value by the host's 65,536-bin table rule.
//
// A grid block of kThreads = 256 threads does one unit (cuda/blockwise8_meta.h). For an
// 8-bit tensor, in phases separated by __syncthreads():
//   load_maps, first_bins   the maps in shared memory; bins[m][k] = the first of the
//                           65,536 bins whose value v_j = -1 + 2 j / 65535 is above the
//                           midpoint 0.5 (q[k] + q[k+1]) (a binary search over j)
//   scan_read, scan_write   (8 rounds) bins[m][k] = the largest of bins[m][0..k]: the
//                           bin where the host's table sweep passes k. lut[j] is then
//                           the number of k with bins[m][k] <= j, found by an 8-step
//                           binary search (code_of_bin); bins[m][255] = 65536, never <= j
// then per quantization block of the unit:
//   update                  thread t: value t of the block dequantized, updated, the
//                           param stored; |new moment| into red[m][t]
//   tree_step               (8 rounds) red[m][t] = max(red[m][t], red[m][t + stride]),
//                           NaN winning: red[m][0] is the block's absmax
//   quantize                absmax stored (a NaN as the host's canonical NaN) and every
//                           value's code (all 0 unless 0 < absmax < inf)
// A tensor with float32 moments runs the 32-bit rules elementwise (f32_unit). The host
// emulator (blockwise8_emulated.cpp) runs these phases in this order, thread by thread;
// blockwise8_kernel runs them on the GPU.
#pragma once
#include <cmath>
#include <cstdint>

#include "cuda/blockwise8_meta.h"
#include "optimizers/blockwise8.h"
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {
namespace q8dev {

using q8_meta::kThreads;

// ------------------------------------------------------------ float32 ops, rounded once
FO_HD float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
FO_HD float add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
FO_HD float dvd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
FO_HD float root(float a) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}
FO_HD float fused(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// np.sign: 1, -1, the NaN itself for NaN, +0 otherwise (the host kernels' sign_np).
FO_HD float sign_np(float x) {
  if (x > 0.0f) return 1.0f;
  if (x < 0.0f) return -1.0f;
  return x != x ? x : 0.0f;
}

// The NaN the host kernels store as an absmax (__builtin_nanf("")).
FO_HD float host_nan() {
#if defined(__CUDA_ARCH__)
  return __int_as_float(0x7fc00000);
#else
  return __builtin_nanf("");
#endif
}

// 0 < absmax < inf (false for NaN): the block gets codes.
FO_HD bool codable(float absmax) { return absmax > 0.0f && absmax <= 3.40282347e+38f; }

// ------------------------------------------------------------ shared memory and lanes
constexpr std::uint32_t kNoBin = 65536;  // beyond the last bin: never <= a bin

struct Shared {
  float q[2][kThreads];              // the maps (q2: adam only)
  std::uint32_t bins[2][kThreads];   // see first_bins and scan_*
  float red[2][kThreads];            // the block's |moments|, then their maxima
};

// What a thread carries from one phase to the next (registers on the GPU).
struct Lane {
  float x[2];  // its value's new moments
};

struct Args {
  Q8Const k;
  const float* q1;
  const float* q2;  // adam only
};

// The unit grid block `block` does: tensor `t`, units [unit, unit + 1) of it.
struct Unit {
  int t;
  std::int64_t unit;
};

FO_HD Unit unit_of(const q8_meta::Meta& meta, int block) {
  int lo = 0, hi = meta.n_tensors - 1;  // the last t with first_unit[t] <= block
  while (lo < hi) {
    const int mid = (lo + hi + 1) / 2;
    if (meta.first_unit[mid] <= block) lo = mid; else hi = mid - 1;
  }
  return {lo, static_cast<std::int64_t>(block - meta.first_unit[lo])};
}

// ------------------------------------------------------------ the quantizer's bins
// v_j, as the host table computes it.
FO_HD float bin_value(std::uint32_t j) {
  return add(-1.0f, dvd(mul(2.0f, static_cast<float>(j)), 65535.0f));
}

// The first bin j in [0, 65536) with mid < v_j (v_j never decreases with j), else kNoBin.
FO_HD std::uint32_t first_bin_above(float mid) {
  std::uint32_t lo = 0, hi = kNoBin;
  while (lo < hi) {
    const std::uint32_t j = (lo + hi) / 2;
    if (mid < bin_value(j)) hi = j; else lo = j + 1;
  }
  return lo;
}

template <int M>
FO_HD void load_maps(Shared& sh, const Args& a, int t) {
  sh.q[0][t] = a.q1[t];
  if (M == 2) sh.q[1][t] = a.q2[t];
}

template <int M>
FO_HD void first_bins(Shared& sh, int t) {
  for (int m = 0; m < M; ++m)
    sh.bins[m][t] = t < kThreads - 1
                        ? first_bin_above(mul(0.5f, add(sh.q[m][t], sh.q[m][t + 1])))
                        : kNoBin;
}

// One round of the running maximum over bins (offset 1, 2, 4 ... 128): every thread reads
// (scan_read), then every thread writes (scan_write).
struct Bins {
  std::uint32_t b[2];
};
template <int M>
FO_HD Bins scan_read(const Shared& sh, int t, int offset) {
  Bins r{};
  for (int m = 0; m < M; ++m) {
    const std::uint32_t x = sh.bins[m][t];
    const std::uint32_t y = t >= offset ? sh.bins[m][t - offset] : 0u;
    r.b[m] = x > y ? x : y;
  }
  return r;
}
template <int M>
FO_HD void scan_write(Shared& sh, const Bins& r, int t) {
  for (int m = 0; m < M; ++m) sh.bins[m][t] = r.b[m];
}

// The code of bin j: the number of k < 255 with bins[k] <= j (bins sorted).
FO_HD int code_of_bin(const std::uint32_t* bins, std::uint32_t j) {
  int pos = 0;
  for (int step = 128; step > 0; step >>= 1)
    if (bins[pos + step - 1] <= j) pos += step;
  return pos;
}

FO_HD std::uint8_t code_of(float x, float inv, const std::uint32_t* bins) {
  float s = mul(x, inv);
  // NaN (0 * inf: a subnormal absmax makes inv inf) goes to -1 (bin 0), as on the host.
  s = s >= -1.0f ? s : -1.0f;
  s = s > 1.0f ? 1.0f : s;
  const float h = mul(add(s, 1.0f), 0.5f);
  return static_cast<std::uint8_t>(
      code_of_bin(bins, static_cast<std::uint32_t>(static_cast<int>(fused(h, 65535.0f, 0.5f)))));
}

// ------------------------------------------------------------ one quantization block
// Values [off, off + len) of tensor t, block blk.
struct BlockSpan {
  std::int64_t blk, off;
  int len;
};
FO_HD BlockSpan block_span(const q8_meta::Meta& meta, int t, std::int64_t blk) {
  const std::int64_t off = blk * kThreads, left = meta.numel[t] - off;
  return {blk, off, static_cast<int>(left < kThreads ? left : kThreads)};
}

template <int KIND>
FO_HD Lane update(Shared& sh, const Args& a, const q8_meta::Meta& meta, int t,
                  const BlockSpan& s, int thread) {
  const Q8Const& k = a.k;
  Lane lane{{0.0f, 0.0f}};
  float r0 = 0.0f, r1 = 0.0f;
  if (thread < s.len) {
    const std::int64_t i = s.off + thread;
    float* p = meta.p[t];
    const float gi = meta.g[t][i];
    const std::uint8_t* c1 = static_cast<const std::uint8_t*>(meta.s1[t]);
    if (KIND == static_cast<int>(Q8Kind::Adam)) {
      const std::uint8_t* c2 = static_cast<const std::uint8_t*>(meta.s2[t]);
      float mi = mul(sh.q[0][c1[i]], meta.a1[t][s.blk]);
      float vi = mul(sh.q[1][c2[i]], meta.a2[t][s.blk]);
      mi = fused(gi, k.omb1, mul(mi, k.b1));
      vi = fused(mul(k.omb2, gi), gi, mul(vi, k.b2));
      const float d = add(dvd(root(vi), k.c2), k.eps);
      float pi = p[i];
      if (k.use_decay) pi = mul(pi, k.decay);
      p[i] = add(pi, dvd(mul(k.lr_c1, mi), d));
      lane.x[0] = mi;
      lane.x[1] = vi;
    } else if (KIND == static_cast<int>(Q8Kind::Momentum)) {
      const float pi = p[i];
      const float g = fused(pi, k.wd, gi);
      const float bi =
          k.first ? g : add(mul(mul(sh.q[0][c1[i]], meta.a1[t][s.blk]), k.momentum), g);
      p[i] = fused(bi, k.neg_lr, pi);
      lane.x[0] = bi;
    } else {
      const float mi = mul(sh.q[0][c1[i]], meta.a1[t][s.blk]);
      float pi = p[i];
      if (k.use_decay) pi = mul(pi, k.decay);
      const float u = sign_np(add(mul(mi, k.b1), mul(gi, k.omb1)));
      p[i] = fused(u, k.neg_lr, pi);
      lane.x[0] = fused(gi, k.omb2, mul(mi, k.b2));
    }
    r0 = fo_fabs(lane.x[0]);
    r1 = fo_fabs(lane.x[1]);
  }
  sh.red[0][thread] = r0;
  sh.red[1][thread] = r1;
  return lane;
}

template <int M>
FO_HD void tree_step(Shared& sh, int thread, int stride) {
  if (thread < stride)
    for (int m = 0; m < M; ++m)
      sh.red[m][thread] = max_nan(sh.red[m][thread], sh.red[m][thread + stride]);
}

template <int M>
FO_HD void quantize(const Shared& sh, const Lane& lane, const q8_meta::Meta& meta, int t,
                    const BlockSpan& s, int thread) {
  for (int m = 0; m < M; ++m) {
    float am = sh.red[m][0];
    if (am != am) am = host_nan();
    if (thread == 0) (m == 0 ? meta.a1 : meta.a2)[t][s.blk] = am;
    if (thread < s.len) {
      std::uint8_t* codes = static_cast<std::uint8_t*>(m == 0 ? meta.s1[t] : meta.s2[t]);
      codes[s.off + thread] = codable(am) ? code_of(lane.x[m], dvd(1.0f, am), sh.bins[m]) : 0;
    }
  }
}

// ------------------------------------------------------------ float32 moments
template <int KIND>
FO_HD void f32_unit(const Args& a, const q8_meta::Meta& meta, const Unit& u, int thread) {
  const Q8Const& k = a.k;
  const int t = u.t;
  const std::int64_t begin = u.unit * q8_meta::kUnit, n = meta.numel[t];
  const std::int64_t end = n - begin < q8_meta::kUnit ? n : begin + q8_meta::kUnit;
  float* p = meta.p[t];
  const float* g = meta.g[t];
  float* s1 = static_cast<float*>(meta.s1[t]);
  float* s2 = static_cast<float*>(meta.s2[t]);
  for (std::int64_t i = begin + thread; i < end; i += kThreads) {
    const float gi = g[i];
    float pi = p[i];
    if (KIND == static_cast<int>(Q8Kind::Adam)) {
      const float mi = fused(gi, k.omb1, mul(s1[i], k.b1));
      const float vi = fused(mul(k.omb2, gi), gi, mul(s2[i], k.b2));
      s1[i] = mi;
      s2[i] = vi;
      const float up = dvd(mi, add(root(vi), k.eps_c2));
      if (k.use_decay) pi = mul(pi, k.decay);
      p[i] = fused(up, k.step_size, pi);
    } else if (KIND == static_cast<int>(Q8Kind::Momentum)) {
      const float gd = k.use_decay ? fused(pi, k.wd, gi) : gi;
      const float bi = k.first ? gd : add(mul(s1[i], k.momentum), gd);
      s1[i] = bi;
      p[i] = fused(bi, k.neg_lr, pi);
    } else {
      const float mi = s1[i];
      if (k.use_decay) pi = mul(pi, k.decay);
      const float up = sign_np(fused(gi, k.omb1, mul(mi, k.b1)));
      p[i] = fused(up, k.neg_lr, pi);
      s1[i] = fused(gi, k.omb2, mul(mi, k.b2));
    }
  }
}

// The quantization blocks [first, last) of unit u of an 8-bit tensor.
FO_HD void unit_blocks(const q8_meta::Meta& meta, const Unit& u, std::int64_t* first,
                       std::int64_t* last) {
  const std::int64_t blocks = (meta.numel[u.t] + kThreads - 1) / kThreads;
  *first = u.unit * q8_meta::kUnitBlocks;
  *last = blocks - *first < q8_meta::kUnitBlocks ? blocks : *first + q8_meta::kUnitBlocks;
}

// The maps each kind keeps (adam: two moments).
template <int KIND>
constexpr int kMaps = KIND == static_cast<int>(Q8Kind::Adam) ? 2 : 1;

#if defined(__CUDACC__)
template <int KIND>
__global__ void __launch_bounds__(kThreads)
    blockwise8_kernel(const Args a, const __grid_constant__ q8_meta::Meta meta) {
  constexpr int M = kMaps<KIND>;
  __shared__ Shared sh;
  const int thread = threadIdx.x;
  const Unit u = unit_of(meta, blockIdx.x);
  if (!meta.q8[u.t]) {  // the same branch for the whole block
    f32_unit<KIND>(a, meta, u, thread);
    return;
  }
  load_maps<M>(sh, a, thread);
  __syncthreads();
  first_bins<M>(sh, thread);
  __syncthreads();
  for (int offset = 1; offset < kThreads; offset <<= 1) {
    const Bins b = scan_read<M>(sh, thread, offset);
    __syncthreads();
    scan_write<M>(sh, b, thread);
    __syncthreads();
  }
  std::int64_t first, last;
  unit_blocks(meta, u, &first, &last);
  for (std::int64_t blk = first; blk < last; ++blk) {
    const BlockSpan s = block_span(meta, u.t, blk);
    const Lane lane = update<KIND>(sh, a, meta, u.t, s, thread);
    __syncthreads();
    for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
      tree_step<M>(sh, thread, stride);
      __syncthreads();
    }
    quantize<M>(sh, lane, meta, u.t, s, thread);
    __syncthreads();  // red is rewritten by the next block's update
  }
}
#endif

// Every launch of a step through runner.template run<KIND>(args, meta, n_units): shared by
// the CUDA launcher and the host emulator.
template <class Runner>
void run_blockwise8(const std::vector<Q8Tensor>& ts, const Q8Step& s, const float* q1,
                    const float* q2, Runner& runner) {
  const Args a{blockwise8_constants(s), q1, q2};
  q8_meta::Meta meta;
  q8_meta::pack(ts, meta, [&](const q8_meta::Meta& m, int n_units) {
    switch (s.kind) {
      case Q8Kind::Adam: return runner.template run<static_cast<int>(Q8Kind::Adam)>(a, m, n_units);
      case Q8Kind::Momentum:
        return runner.template run<static_cast<int>(Q8Kind::Momentum)>(a, m, n_units);
      case Q8Kind::Lion: return runner.template run<static_cast<int>(Q8Kind::Lion)>(a, m, n_units);
    }
  });
}

}  // namespace q8dev
}  // namespace FO_ISA
}  // namespace fusedoptim
