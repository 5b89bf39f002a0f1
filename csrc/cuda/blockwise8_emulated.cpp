// device_blockwise8.h on the host: the 8-bit kernel body (cuda/blockwise8_device.h) run
// grid block by grid block, each phase for every thread in turn before the next phase
// (where the GPU has a __syncthreads()), over host memory. Built into
// fusedoptim._cuda_emulator with -ffp-contract=off, as the host kernels are.
#define FO_ISA emulated
#include <vector>

#include "cuda/blockwise8_device.h"
#include "cuda/device_blockwise8.h"

namespace fusedoptim {
namespace {

using namespace emulated::q8dev;

struct Emulator {
  template <int KIND>
  void run(const Args& a, const q8_meta::Meta& meta, int n_units) {
    constexpr int M = kMaps<KIND>;
    std::vector<Shared> shared(1);  // 6 KB: off the stack
    Shared& sh = shared[0];
    Lane lanes[kThreads];
    Bins bins[kThreads];
    for (int block = 0; block < n_units; ++block) {
      const Unit u = unit_of(meta, block);
      if (!meta.q8[u.t]) {
        for (int t = 0; t < kThreads; ++t) f32_unit<KIND>(a, meta, u, t);
        continue;
      }
      for (int t = 0; t < kThreads; ++t) load_maps<M>(sh, a, t);
      for (int t = 0; t < kThreads; ++t) first_bins<M>(sh, t);
      for (int offset = 1; offset < kThreads; offset <<= 1) {
        for (int t = 0; t < kThreads; ++t) bins[t] = scan_read<M>(sh, t, offset);
        for (int t = 0; t < kThreads; ++t) scan_write<M>(sh, bins[t], t);
      }
      std::int64_t first, last;
      unit_blocks(meta, u, &first, &last);
      for (std::int64_t blk = first; blk < last; ++blk) {
        const BlockSpan s = block_span(meta, u.t, blk);
        for (int t = 0; t < kThreads; ++t) lanes[t] = update<KIND>(sh, a, meta, u.t, s, t);
        for (int stride = kThreads / 2; stride > 0; stride >>= 1)
          for (int t = 0; t < kThreads; ++t) tree_step<M>(sh, t, stride);
        for (int t = 0; t < kThreads; ++t) quantize<M>(sh, lanes[t], meta, u.t, s, t);
      }
    }
  }
};

}  // namespace

void device_blockwise8(const std::vector<Q8Tensor>& tensors, const Q8Step& step,
                       const float* qmap1, const float* qmap2, int, std::uintptr_t) {
  Emulator emulator;
  run_blockwise8(tensors, step, qmap1, qmap2, emulator);
}

}  // namespace fusedoptim
