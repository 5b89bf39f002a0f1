#include "optimizers/blockwise8_run.h"

#include <cstring>
#include <cstdlib>

#include "engine/dispatch.h"
#include "engine/multi_tensor.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusedoptim {

// Defined in csrc/isa/blockwise8_<isa>.cpp.
extern const Blockwise8Kernels kTable_blockwise8_scalar;
#ifdef FUSEDOPTIM_HAVE_AVX2
extern const Blockwise8Kernels kTable_blockwise8_avx2;
#endif
#ifdef FUSEDOPTIM_HAVE_AVX512
extern const Blockwise8Kernels kTable_blockwise8_avx512;
extern const Blockwise8Kernels kTable_blockwise8_avx512vbmi;
#endif

bool blockwise8_vbmi() {
#ifdef FUSEDOPTIM_HAVE_AVX512
  static const bool use = [] {
    const char* off = std::getenv("FUSEDOPTIM_NO_VBMI");
    const CpuFeatures& f = cpu_features();
    return !(off && *off && std::strcmp(off, "0") != 0) && cpu_supports(Isa::AVX512) &&
           f.avx512bw && f.avx512vbmi;
  }();
  return use;
#else
  return false;
#endif
}

const char* blockwise8_path() {
  const Isa isa = active_isa();
  if (isa == Isa::AVX512 && blockwise8_vbmi()) return "avx512vbmi";
  return isa_name(isa);
}

namespace {

const Blockwise8Kernels& kernels_for(Isa isa) {
  switch (isa) {
#ifdef FUSEDOPTIM_HAVE_AVX2
    case Isa::AVX2:
      return kTable_blockwise8_avx2;
#endif
#ifdef FUSEDOPTIM_HAVE_AVX512
    case Isa::AVX512:
      return blockwise8_vbmi() ? kTable_blockwise8_avx512vbmi : kTable_blockwise8_avx512;
#endif
    default:
      return kTable_blockwise8_scalar;
  }
}

// Values per work unit: 64 blocks, 16 KiB of float32 (the param's and grad's share of
// a unit stays in L2 while its codes are written).
constexpr std::size_t kUnit = 64 * blockwise8::kBlock;

struct Unit {
  int t;
  std::size_t lo, hi;  // values [lo, hi) of tensor t; lo a block boundary
};

// The map's float32 values as 4 planes of 256 bytes (little-endian byte b of q[i] at
// b * 256 + i).
void build_planes(const float* q, std::uint8_t* out) {
  for (int i = 0; i < 256; ++i) {
    std::uint32_t u;
    std::memcpy(&u, q + i, 4);
    for (int b = 0; b < 4; ++b) out[b * 256 + i] = static_cast<std::uint8_t>(u >> (8 * b));
  }
}

// The binary search of the table (blockwise8.h, kSearchWords): false when a bin's code
// is not the count of 255 thresholds in [0, 65535] (lut[65535] < 255).
bool build_search(const std::uint8_t* lut, std::uint16_t* out) {
  if (lut[blockwise8::kLutSize - 1] != 255) return false;
  std::uint16_t thr[255];  // thr[k] = the first bin j with lut[j] > k
  std::size_t j = 0;
  for (int k = 0; k < 255; ++k) {
    while (lut[j] <= k) ++j;  // ends: lut[65535] = 255 > k
    thr[k] = static_cast<std::uint16_t>(j);
  }
  std::memset(out, 0, blockwise8::kSearchWords * sizeof(std::uint16_t));
  for (int t = 0; t < 8; ++t)
    for (int r = 0; r < (1 << t); ++r) {
      int pos = 0;
      for (int u = 0; u < t; ++u)
        if ((r >> u) & 1) pos += 128 >> u;
      out[blockwise8::kSearchOffset[t] + r] = thr[pos + (128 >> t) - 1];
    }
  return true;
}

}  // namespace

std::vector<std::uint8_t> blockwise8_lut(const float* q) {
  using blockwise8::kLutSize;
  float mid[255];
  for (int k = 0; k < 255; ++k) mid[k] = 0.5f * (q[k] + q[k + 1]);
  std::vector<std::uint8_t> lut(kLutSize + blockwise8::kLutPad, 0);
  // v_j increases with j and the midpoints are sorted: the count only moves forward.
  int k = 0;
  for (std::size_t j = 0; j < kLutSize; ++j) {
    const float v = -1.0f + (2.0f * static_cast<float>(j)) / 65535.0f;
    while (k < 255 && mid[k] < v) ++k;
    lut[j] = static_cast<std::uint8_t>(k);
  }
  return lut;
}

void blockwise8_run(const std::vector<Q8Tensor>& ts, const Q8Step& s, const float* qmap1,
                    const float* qmap2, int threads) {
  std::vector<Unit> units;
  std::size_t total = 0;
  bool any_q8 = false;
  for (int t = 0; t < static_cast<int>(ts.size()); ++t) {
    const std::size_t n = ts[t].numel;
    total += n;
    any_q8 = any_q8 || (ts[t].q8 && n > 0);
    for (std::size_t lo = 0; lo < n; lo += kUnit) units.push_back({t, lo, lo + kUnit < n ? lo + kUnit : n});
  }
  if (units.empty()) return;
  const Blockwise8Kernels& kt = kernels_for(active_isa());
  const Q8Const k = blockwise8_constants(s);
  std::vector<std::uint8_t> lut1, lut2;
  Q8Maps maps{qmap1, qmap2, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  // Planes, searches and the bit reversal of the byte-permute path, 64-byte aligned.
  alignas(64) std::uint8_t planes[2][blockwise8::kPlaneBytes];
  alignas(64) std::uint16_t search[2][blockwise8::kSearchWords];
  alignas(64) std::uint8_t rev[256];
  if (any_q8) {
    lut1 = blockwise8_lut(qmap1);
    maps.lut1 = lut1.data();
    build_planes(qmap1, planes[0]);
    maps.planes1 = planes[0];
    if (build_search(maps.lut1, search[0])) maps.search1 = search[0];
    if (s.kind == Q8Kind::Adam) {
      lut2 = blockwise8_lut(qmap2);
      maps.lut2 = lut2.data();
      build_planes(qmap2, planes[1]);
      maps.planes2 = planes[1];
      if (build_search(maps.lut2, search[1])) maps.search2 = search[1];
    }
    for (int i = 0; i < 256; ++i) {
      int r = 0;
      for (int b = 0; b < 8; ++b) r |= ((i >> b) & 1) << (7 - b);
      rev[i] = static_cast<std::uint8_t>(r);
    }
    maps.rev = rev;
  }
  const int kind = static_cast<int>(s.kind);
  const auto q8 = kt.q8[kind];
  const auto f32 = kt.f32[kind];
  const bool parallel = threads > 1 && total >= kSerialThreshold;
  const long n_units = static_cast<long>(units.size());
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
#endif
  for (long u = 0; u < n_units; ++u) {
    const Unit& w = units[u];
    const Q8Tensor& x = ts[w.t];
    if (x.q8) {
      const std::size_t blk = w.lo / blockwise8::kBlock;
      const Q8Run r{x.p + w.lo,
                    x.g + w.lo,
                    static_cast<std::uint8_t*>(x.s1) + w.lo,
                    x.s2 ? static_cast<std::uint8_t*>(x.s2) + w.lo : nullptr,
                    x.a1 + blk,
                    x.a2 ? x.a2 + blk : nullptr,
                    w.hi - w.lo};
      q8(r, k, maps);
    } else {
      const F32Run r{x.p + w.lo, x.g + w.lo, static_cast<float*>(x.s1) + w.lo,
                     x.s2 ? static_cast<float*>(x.s2) + w.lo : nullptr, w.hi - w.lo};
      f32(r, k);
    }
  }
  (void)parallel;
  (void)threads;
}

}  // namespace fusedoptim
