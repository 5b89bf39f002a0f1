// bitsandbytes-style 8-bit blockwise optimizers (Adam8bit, SGD8bit with momentum,
// Lion8bit), the arithmetic of python/fusedoptim/reference/_eightbit.py bit for bit.
// A moment kept in 8 bits is, per element, one uint8 code, and per block of kBlock = 256
// elements one float32 absmax: its value is qmap[code] * absmax[i / 256]. A param below
// bitsandbytes' min_8bit_size keeps float32 moments and runs the 32-bit formulas.
//
// Every op is float32, rounded once; fma(a, b, c) is one fused multiply-add (the ISA
// files are compiled with -ffp-contract=off so no other mul+add is fused). f(x) is a
// host double cast once to float32. Host scalars: b1 = f(beta1), omb1 = f(1 - beta1),
// b2 = f(beta2), omb2 = f(1 - beta2), c1 = 1 - beta1^step, c2 = sqrt(1 - beta2^step),
// decay = f(1 - lr wd) (applied only when wd > 0).
//   adam 8-bit:  m = fma(g, omb1, m b1); v = fma(omb2 g, g, v b2);
//                d = sqrt(v) / f(c2) + f(eps); p = p decay; p = p + (f(-lr / c1) m) / d
//   adam 32-bit: m, v as above; u = m / (sqrt(v) + f(eps c2)); p = p decay;
//                p = fma(u, f(-lr c2 / c1), p)
//   momentum 8-bit:  g = fma(p, f(wd), g) (always); buf = g at step 1, else
//                    (m f(momentum)) + g; p = fma(buf, f(-lr), p)
//   momentum 32-bit: the same, the decay of g only when wd > 0
//   lion 8-bit:  p = p decay; u = sign(m b1 + g omb1) (two products, one sum);
//                p = fma(u, f(-lr), p); m = fma(g, omb2, m b2)
//   lion 32-bit: the same with u = sign(fma(g, omb1, m b1))
// Requantizing a block x[0, len): absmax = max |x| (NaN if any x is NaN); unless
// 0 < absmax < inf every code is 0; else s = clamp(x * (1 / absmax), -1, 1),
// j = trunc(fma((s + 1) 0.5, 65535, 0.5)), code = lut[j], where lut (65536 bins) holds
// for v_j = -1 + 2 j / 65535 the number of midpoints 0.5 (q[k] + q[k+1]) below v_j.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fusedoptim {

namespace blockwise8 {
constexpr std::size_t kBlock = 256;      // values per absmax
constexpr std::size_t kLutSize = 65536;  // bins of the quantizer's table
constexpr std::size_t kLutPad = 64;      // bytes after the table: a 32-bit gather at any bin
constexpr std::size_t kPlaneBytes = 1024;  // a map's 256 float32 values as 4 byte planes
// With lut[65535] = 255, lut[j] is the number of thresholds T[k] <= j (k < 255, T[k] the
// first bin with lut > k), found by an 8-step binary search on 16-bit bins: step t
// compares j with S_t[r], r the t decisions so far (bit u = step u's: T[...] <= j), at
// word kSearchOffset[t] (S_0 has 1 entry, S_t 2^t); the code is r with its bits reversed.
constexpr std::size_t kSearchWords = 384;
constexpr std::size_t kSearchOffset[8] = {0, 32, 64, 96, 128, 160, 192, 256};
}  // namespace blockwise8

enum class Q8Kind { Adam = 0, Momentum = 1, Lion = 2 };

// The float32 scalars of one step (host-computed, see the formulas above).
struct Q8Const {
  float b1, omb1, b2, omb2;
  float c2;          // adam 8-bit: f(sqrt(1 - beta2^step))
  float eps;         // adam 8-bit: f(eps)
  float lr_c1;       // adam 8-bit: f(-lr / c1)
  float eps_c2;      // adam 32-bit: f(eps c2)
  float step_size;   // adam 32-bit: f(-lr c2 / c1)
  float decay;       // f(1 - lr wd)
  float wd;          // momentum: f(wd)
  float momentum;    // momentum: f(momentum)
  float neg_lr;      // momentum, lion: f(-lr)
  bool use_decay;    // wd > 0
  bool first;        // momentum: step == 1
};

// The maps of one call and their quantizer tables (kLutSize + kLutPad bytes each).
struct Q8Maps {
  const float* q1;
  const float* q2;  // adam only
  const std::uint8_t* lut1;
  const std::uint8_t* lut2;
  // For the byte-permute kernels (AVX-512 VBMI), built by blockwise8_run.cpp:
  const std::uint8_t* planes1;   // kPlaneBytes, 64-byte aligned: byte b of q1[i] at b * 256 + i
  const std::uint8_t* planes2;   // adam only
  const std::uint16_t* search1;  // kSearchWords, 64-byte aligned: the bins' binary search; null
  const std::uint16_t* search2;  // where the map's lut has none (lut[65535] < 255): use lut
  const std::uint8_t* rev;       // 256 bytes, 64-byte aligned: i with its 8 bits reversed
};

// A run of whole blocks of one 8-bit tensor: n values from a block boundary (only the
// tensor's last block may be partial); codes and absmax start at the run's first block.
struct Q8Run {
  float* p;
  const float* g;
  std::uint8_t* c1;
  std::uint8_t* c2;  // adam only
  float* a1;
  float* a2;         // adam only
  std::size_t n;
};

// A run of a tensor with float32 moments.
struct F32Run {
  float* p;
  const float* g;
  float* s1;
  float* s2;  // adam only
  std::size_t n;
};

// The kernels of one ISA, indexed by Q8Kind.
struct Blockwise8Kernels {
  void (*q8[3])(const Q8Run&, const Q8Const&, const Q8Maps&);
  void (*f32[3])(const F32Run&, const Q8Const&);
};

}  // namespace fusedoptim
