// How the CUDA launcher packs a list of tensors into kernel launches, in the
// multi-tensor-apply style: the tensors' addresses and sizes ride in the kernel's
// arguments (no host-to-device copy, no synchronisation), each block of the grid
// updates one chunk of one tensor, and a list longer than one launch holds is cut
// into several launches. Plain C++: the host emulator (emulated_apply.cpp) packs and
// runs the very same metadata on the CPU.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/multi_tensor.h"

namespace fusedoptim {
namespace cuda_meta {

constexpr int kBlockThreads = 512;
// Elements each thread moves per vector access; chunks are multiples of it, so a
// tensor whose operands are all aligned to kILP elements stays aligned in every chunk.
constexpr int kILP = 4;
constexpr std::int64_t kChunk = 65536;  // elements per block

// Tensors and blocks per launch for K operands: as many tensors as fit in about 28 KB
// of kernel arguments next to the block map (CUDA 12.1+ allows 32,764 bytes of
// parameters on sm_70 and newer; apex's 4 KB limits would take 4x more launches for
// many small tensors, and each launch costs the host microseconds).
template <int K>
struct Capacity {
  static constexpr int kBlocks = 1024;
  static constexpr int kBudget = 28000 - kBlocks * 6;  // bytes left for the tensor lists
  static constexpr int kFit = kBudget / (8 * K + 9);    // addresses, numel, aligned flag
  static constexpr int kTensors = kFit < kBlocks ? kFit : kBlocks;
};

template <int K>
struct TensorListMeta {
  static constexpr int kTensors = Capacity<K>::kTensors;
  static constexpr int kBlocks = Capacity<K>::kBlocks;
  void* addr[K][kTensors];
  std::int64_t numel[kTensors];
  unsigned char aligned[kTensors];  // every operand aligned to kILP elements
  std::uint16_t block_tensor[kBlocks];
  std::int32_t block_chunk[kBlocks];
};
static_assert(sizeof(TensorListMeta<1>) < 30000 && sizeof(TensorListMeta<2>) < 30000 &&
                  sizeof(TensorListMeta<3>) < 30000 && sizeof(TensorListMeta<4>) < 30000 &&
                  sizeof(TensorListMeta<5>) < 30000 && sizeof(TensorListMeta<7>) < 30000,
              "kernel arguments (with the rule) stay under CUDA's 32,764-byte limit");

// The elements block `block` of a launch covers: [begin, end) of tensor `tensor`.
struct BlockSpan {
  int tensor;
  std::int64_t begin, end;
};
template <int K>
#if defined(__CUDACC__)
__host__ __device__
#endif
inline BlockSpan block_span(const TensorListMeta<K>& meta, int block) {
  const int t = meta.block_tensor[block];
  const std::int64_t begin = static_cast<std::int64_t>(meta.block_chunk[block]) * kChunk;
  const std::int64_t n = meta.numel[t];
  return {t, begin, n - begin < kChunk ? n : begin + kChunk};
}

// The operands' pointers of tensor t of a meta, as T*.
template <typename T, int K>
#if defined(__CUDACC__)
__host__ __device__
#endif
inline void tensor_ptrs(const TensorListMeta<K>& meta, int t, T** ptr) {
  for (int k = 0; k < K; ++k) ptr[k] = static_cast<T*>(meta.addr[k][t]);
}

// Slot k of tensor t's entry in a meta: operand k's address for k < the launch's
// operand count n; past it, a mixed launch's two extras (access.h's MixedAccess): slot n
// the param's float32 master copy (TensorSlot::ptr[kMasterSlot], null without one), slot
// n + 1 the tensor's stochastic-rounding prekey (rounding_prekey; 0 without), a number
// riding in a pointer's place.
inline void* meta_slot(const Launch& l, const TensorSlot& t, int k) {
  if (k < l.n_operands) return t.ptr[k];
  if (k == l.n_operands) return t.ptr[kMasterSlot];
  const std::uint64_t prekey =
      l.stochastic ? rounding_prekey(l.round_seed, t.round_step, t.round_tensor) : 0;
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(prekey));
}

// Packs every non-empty tensor of `l` into metas and calls emit(meta, n_blocks) for each
// full or final one. K: the launch's operand count, or two more for a mixed launch
// (meta_slot). `meta` is reused between calls: emit must consume it at once (a
// kernel launch copies its arguments).
template <int K, typename Emit>
void pack(const Launch& l, TensorListMeta<K>& meta, Emit&& emit) {
  using Meta = TensorListMeta<K>;
  const std::size_t vec_bytes = kILP * l.elem_size;
  int n_tensors = 0, n_blocks = 0;
  for (const TensorSlot& t : l.tensors) {
    if (t.numel == 0) continue;
    const std::int64_t n_chunks = (static_cast<std::int64_t>(t.numel) + kChunk - 1) / kChunk;
    bool aligned = true;
    for (int k = 0; k < K && k < l.n_operands; ++k)
      aligned = aligned && reinterpret_cast<std::uintptr_t>(t.ptr[k]) % vec_bytes == 0;
    for (std::int64_t c = 0; c < n_chunks; ++c) {
      if (c == 0 || n_blocks == 0) {  // the tensor enters this meta
        if (n_tensors == Meta::kTensors) {
          emit(meta, n_blocks);
          n_tensors = n_blocks = 0;
        }
        for (int k = 0; k < K; ++k) meta.addr[k][n_tensors] = meta_slot(l, t, k);
        meta.numel[n_tensors] = static_cast<std::int64_t>(t.numel);
        meta.aligned[n_tensors] = aligned;
        ++n_tensors;
      }
      meta.block_tensor[n_blocks] = static_cast<std::uint16_t>(n_tensors - 1);
      meta.block_chunk[n_blocks] = static_cast<std::int32_t>(c);
      if (++n_blocks == Meta::kBlocks) {
        emit(meta, n_blocks);
        // A tensor cut here continues in the next meta, re-entered at its next chunk.
        n_tensors = n_blocks = 0;
      }
    }
  }
  if (n_blocks > 0) emit(meta, n_blocks);
}

}  // namespace cuda_meta
}  // namespace fusedoptim
