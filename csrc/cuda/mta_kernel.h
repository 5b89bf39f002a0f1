// The multi-tensor kernel body: block `block` of a launch updates its chunk of one
// tensor with an update rule (csrc/optimizers/*.h, the same rules the CPU runs).
// Written as a host-and-device function of (block, thread) so that the host
// emulator runs exactly this code; under nvcc, mta_kernel wraps it as the
// __global__ entry point.
#pragma once
#include "cuda/launch_meta.h"
#include "optimizers/families.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

// One element through the rule: load the operands it reads, store those it writes.
template <class Rule, typename T, int K>
FO_HD void rule_at(const Rule& rule, T* const* ptr, std::int64_t i) {
  T x[K];
#pragma unroll
  for (int k = 0; k < K; ++k)
    if (Rule::kRead & (1u << k)) x[k] = ptr[k][i];
  rule(x);
#pragma unroll
  for (int k = 0; k < K; ++k)
    if (Rule::kWrite & (1u << k)) ptr[k][i] = x[k];
}

template <class Rule, typename T, int K>
FO_HD void process_block(const Rule& rule, const cuda_meta::TensorListMeta<K>& meta, int block,
                         int thread, int threads) {
  using cuda_meta::kChunk;
  using cuda_meta::kILP;
  const int t = meta.block_tensor[block];
  const std::int64_t begin = static_cast<std::int64_t>(meta.block_chunk[block]) * kChunk;
  const std::int64_t n = meta.numel[t];
  const std::int64_t end = n - begin < kChunk ? n : begin + kChunk;
  T* ptr[K];
#pragma unroll
  for (int k = 0; k < K; ++k) ptr[k] = static_cast<T*>(meta.addr[k][t]);

  std::int64_t tail = begin;
  if (meta.aligned[t]) {
    // Vector loads and stores of kILP elements per operand; the chunk start is a
    // multiple of kILP, so every access here is aligned.
    using V = Vec<T, kILP>;
    const std::int64_t vec_end = begin + (end - begin) / kILP * kILP;
    for (std::int64_t i = begin + static_cast<std::int64_t>(thread) * kILP; i < vec_end;
         i += static_cast<std::int64_t>(threads) * kILP) {
      V r[K];
#pragma unroll
      for (int k = 0; k < K; ++k)
        if (Rule::kRead & (1u << k)) r[k] = *reinterpret_cast<const V*>(ptr[k] + i);
#pragma unroll
      for (int j = 0; j < kILP; ++j) {
        T x[K];
#pragma unroll
        for (int k = 0; k < K; ++k)
          if (Rule::kRead & (1u << k)) x[k] = r[k].v[j];
        rule(x);
#pragma unroll
        for (int k = 0; k < K; ++k)
          if (Rule::kWrite & (1u << k)) r[k].v[j] = x[k];
      }
#pragma unroll
      for (int k = 0; k < K; ++k)
        if (Rule::kWrite & (1u << k)) *reinterpret_cast<V*>(ptr[k] + i) = r[k];
    }
    tail = vec_end;
  }
  // Unaligned tensors, and the last few elements of aligned ones: one element per
  // thread per pass, consecutive threads on consecutive elements (coalesced).
  for (std::int64_t i = tail + thread; i < end; i += threads) rule_at<Rule, T, K>(rule, ptr, i);
}

#if defined(__CUDACC__)
// __grid_constant__: the metadata is read in place from the kernel's parameter space,
// never copied per thread, even though process_block takes it by reference.
template <class Rule, typename T, int K>
__global__ void __launch_bounds__(cuda_meta::kBlockThreads)
    mta_kernel(const Rule rule, const __grid_constant__ cuda_meta::TensorListMeta<K> meta) {
  process_block<Rule, T, K>(rule, meta, blockIdx.x, threadIdx.x, blockDim.x);
}
#endif

// Every launch of a step through `runner(rule, meta, n_blocks)`, for the rule its
// family and flags select. Shared by the CUDA launcher and the host emulator.
template <class Runner>
void run_launches(const std::vector<Launch>& launches, Runner& runner) {
  for (const Launch& l : launches) {
    auto by_type = [&](auto fam, auto zero) {
      using Family = decltype(fam);
      using T = decltype(zero);
      Family::template with_rule<T>(l.hyper.flags, [&](auto tag) {
        using Rule = typename decltype(tag)::type;
        constexpr int K = Rule::kOperands;
        const Rule rule(l.hyper);
        cuda_meta::TensorListMeta<K> meta;
        cuda_meta::pack<K>(l, meta, [&](const cuda_meta::TensorListMeta<K>& m, int n_blocks) {
          runner.template run<Rule, T, K>(rule, m, n_blocks);
        });
      });
    };
    const bool known = with_family(l.family, [&](auto fam) {
      if (l.elem_size == 4)
        by_type(fam, 0.0f);
      else
        by_type(fam, 0.0);
    });
    if (!known) throw std::invalid_argument("this family has no elementwise CUDA kernel");
  }
}

}  // namespace FO_ISA
}  // namespace fusedoptim
