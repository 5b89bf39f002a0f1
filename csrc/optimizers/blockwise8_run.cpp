#include "optimizers/blockwise8_run.h"

#include <cstdlib>
#include <cstring>
#include <memory>

#include "engine/dispatch.h"
#include "engine/multi_tensor.h"
#include "optimizers/blockwise8_tables.h"

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

}  // namespace

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
  Q8Maps maps{qmap1, qmap2, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
  // The maps' tables, built on a map's first call and kept (blockwise8_tables.h); held
  // here for the step.
  std::shared_ptr<const Q8MapTables> t1, t2;
  if (any_q8) {
    t1 = blockwise8_tables(qmap1);
    maps.lut1 = t1->lut.data();
    maps.planes1 = t1->planes;
    maps.search1 = t1->has_search ? t1->search : nullptr;
    if (s.kind == Q8Kind::Adam) {
      t2 = blockwise8_tables(qmap2);
      maps.lut2 = t2->lut.data();
      maps.planes2 = t2->planes;
      maps.search2 = t2->has_search ? t2->search : nullptr;
    }
    maps.rev = blockwise8_bit_reversal();
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
