// The multi-tensor kernel body: block `block` of a launch updates its chunk of one
// tensor with an update rule (csrc/optimizers/*.h, the same rules the CPU runs).
// Written as a host-and-device function of (block, thread) so that the host
// emulator runs exactly this code; under nvcc, mta_kernel wraps it as the
// __global__ entry point.
#pragma once
#include <stdexcept>
#include <type_traits>

#include "cuda/access.h"
#include "cuda/launch_meta.h"
#include "optimizers/families.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, int N>
struct alignas(sizeof(T) * N) Vec {
  T v[N];
};

// One element through the rule: load the operands it reads, store those it writes.
template <class Rule, class Access>
FO_HD void rule_at(const Rule& rule, const Access& access, void* const* ptr, std::int64_t i) {
  constexpr int K = Rule::kOperands;
  typename Access::Value x[K];
#pragma unroll
  for (int k = 0; k < K; ++k)
    if (Rule::kRead & (1u << k)) x[k] = access.load(ptr, k, i);
  rule(x);
#pragma unroll
  for (int k = 0; k < K; ++k)
    if (Rule::kWrite & (1u << k)) access.store(ptr, k, i, x[k]);
}

// Block `block` of a launch whose metas carry KM operand pointers per tensor (the
// rule's K, and the master copies' slot for MixedAccess<K, true>).
template <class Rule, class Access, int KM>
FO_HD void process_block(const Rule& rule, const Access& access,
                         const cuda_meta::TensorListMeta<KM>& meta, int block, int thread,
                         int threads) {
  using cuda_meta::kILP;
  constexpr int K = Rule::kOperands;
  const cuda_meta::BlockSpan span = cuda_meta::block_span(meta, block);
  const int t = span.tensor;
  const std::int64_t begin = span.begin, end = span.end;
  void* ptr[KM];
  cuda_meta::tensor_ptrs<void, KM>(meta, t, ptr);

  std::int64_t tail = begin;
  if constexpr (Access::kPlain) {
    if (meta.aligned[t]) {
      // Vector loads and stores of kILP elements per operand; the chunk start is a
      // multiple of kILP, so every access here is aligned.
      using T = typename Access::Value;
      using V = Vec<T, kILP>;
      const std::int64_t vec_end = begin + (end - begin) / kILP * kILP;
      for (std::int64_t i = begin + static_cast<std::int64_t>(thread) * kILP; i < vec_end;
           i += static_cast<std::int64_t>(threads) * kILP) {
        V r[K];
#pragma unroll
        for (int k = 0; k < K; ++k)
          if (Rule::kRead & (1u << k)) r[k] = *reinterpret_cast<const V*>(static_cast<T*>(ptr[k]) + i);
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
          if (Rule::kWrite & (1u << k)) *reinterpret_cast<V*>(static_cast<T*>(ptr[k]) + i) = r[k];
      }
      tail = vec_end;
    }
  }
  // Unaligned tensors, mixed launches, and the last few elements of aligned ones: one
  // element per thread per pass, consecutive threads on consecutive elements (coalesced).
  const Access at = access.tensor(ptr);
  for (std::int64_t i = tail + thread; i < end; i += threads) rule_at(rule, at, ptr, i);
}

// For a rule that also sums (kSums > 0): thread `thread` of block `block` runs the rule
// over its strided elements of the chunk (one element per thread per pass, coalesced)
// and adds the squares of the rule's values into acc[0 .. kSums). The block then adds
// its threads' acc in a fixed tree (sums_tree_step), as reduce_kernel.h does.
template <class Rule, class Access, int KM>
FO_HD void sums_thread(const Rule& rule, const Access& access,
                       const cuda_meta::TensorListMeta<KM>& meta, int block, int thread,
                       int threads, double* acc) {
  constexpr int K = Rule::kOperands;
  constexpr int S = RuleSums<Rule>::value;
  const cuda_meta::BlockSpan span = cuda_meta::block_span(meta, block);
  const int t = span.tensor;
  const std::int64_t begin = span.begin, end = span.end;
  void* ptr[KM];
  cuda_meta::tensor_ptrs<void, KM>(meta, t, ptr);
#pragma unroll
  for (int j = 0; j < S; ++j) acc[j] = 0.0;
  const Access at = access.tensor(ptr);
  for (std::int64_t i = begin + thread; i < end; i += threads) {
    typename Access::Value x[K];
#pragma unroll
    for (int k = 0; k < K; ++k)
      if (Rule::kRead & (1u << k)) x[k] = at.load(ptr, k, i);
    typename Access::Value r[S];
    rule(x, r);
#pragma unroll
    for (int k = 0; k < K; ++k)
      if (Rule::kWrite & (1u << k)) at.store(ptr, k, i, x[k]);
#pragma unroll
    for (int j = 0; j < S; ++j) acc[j] += static_cast<double>(r[j]) * static_cast<double>(r[j]);
  }
}

// One level of the block's tree over s[j][thread] (S sums of kBlockThreads partials).
template <int S>
FO_HD void sums_tree_step(double (*s)[cuda_meta::kBlockThreads], int thread, int stride) {
  if (thread < stride)
    for (int j = 0; j < S; ++j) s[j][thread] += s[j][thread + stride];
}

#if defined(__CUDACC__)
// out[block * kMaxSums + j]: block's sums; slots j >= kSums are set to 0.
template <class Rule, class Access, int KM>
__global__ void __launch_bounds__(cuda_meta::kBlockThreads)
    sums_kernel(const Rule rule, const Access access,
                const __grid_constant__ cuda_meta::TensorListMeta<KM> meta, double* out) {
  constexpr int S = RuleSums<Rule>::value;
  __shared__ double s[S][cuda_meta::kBlockThreads];
  double acc[S];
  sums_thread(rule, access, meta, blockIdx.x, threadIdx.x, blockDim.x, acc);
  for (int j = 0; j < S; ++j) s[j][threadIdx.x] = acc[j];
  __syncthreads();
  for (int stride = cuda_meta::kBlockThreads / 2; stride > 0; stride >>= 1) {
    sums_tree_step<S>(s, threadIdx.x, stride);
    __syncthreads();
  }
  if (threadIdx.x == 0)
    for (int j = 0; j < kMaxSums; ++j) out[blockIdx.x * kMaxSums + j] = j < S ? s[j][0] : 0.0;
}
#endif

#if defined(__CUDACC__)
// __grid_constant__: the metadata is read in place from the kernel's parameter space,
// never copied per thread, even though process_block takes it by reference.
template <class Rule, class Access, int KM>
__global__ void __launch_bounds__(cuda_meta::kBlockThreads)
    mta_kernel(const Rule rule, const Access access,
               const __grid_constant__ cuda_meta::TensorListMeta<KM> meta) {
  process_block(rule, access, meta, blockIdx.x, threadIdx.x, blockDim.x);
}
#endif

// Every packed meta of every launch, with the rule its family and flags select and the
// access its storage needs: visit(rule, access, meta, n_blocks). Shared by the CUDA
// launcher and the host emulator.
template <class Visit>
void visit_launches(const std::vector<Launch>& launches, Visit&& visit) {
  for (const Launch& l : launches) {
    // The rule over Value, its operands through make_access(K), `extra` more pointers
    // per tensor (a mixed launch's master and rounding slots, launch_meta.h's meta_slot).
    auto with = [&](auto fam, auto zero, auto make_access, auto extra) {
      using Family = decltype(fam);
      using Value = decltype(zero);
      Family::template with_rule<Value>(l.hyper.flags, [&](auto tag) {
        using Rule = typename decltype(tag)::type;
        constexpr int K = Rule::kOperands;
        constexpr int KM = K + decltype(extra)::value;
        const Rule rule(l.hyper);
        const auto access = make_access(std::integral_constant<int, K>{});
        cuda_meta::TensorListMeta<KM> meta;
        cuda_meta::pack<KM>(l, meta, [&](const cuda_meta::TensorListMeta<KM>& m, int n_blocks) {
          visit(rule, access, m, n_blocks);
        });
      });
    };
    auto plain = [](auto zero) {
      return [](auto) { return PlainAccess<decltype(zero)>{}; };
    };
    auto mixed = [&](auto k) { return mixed_access<decltype(k)::value>(l); };
    const bool known = with_family(l.family, [&](auto fam) {
      using None = std::integral_constant<int, 0>;
      if (l.mixed)
        with(fam, 0.0f, mixed, std::integral_constant<int, 2>{});
      else if (l.elem_size == 4)
        with(fam, 0.0f, plain(0.0f), None{});
      else
        with(fam, 0.0, plain(0.0), None{});
    });
    if (!known) throw std::invalid_argument("this family has no elementwise CUDA kernel");
  }
}

// Every launch of a step through `runner.run(rule, access, meta, n_blocks)`.
template <class Runner>
void run_launches(const std::vector<Launch>& launches, Runner& runner) {
  visit_launches(launches, [&](const auto& rule, const auto& access, const auto& meta,
                               int n_blocks) { runner.run(rule, access, meta, n_blocks); });
}

// Every launch of a step whose rules also sum (the caller checked FamilySpec::n_sums)
// through `runner.sums(rule, access, meta, n_blocks, out)`: kMaxSums partials per block
// into out, in launch, tensor and chunk order (the order cuda_meta::pack emits blocks in).
template <class Runner>
void run_sum_launches(const std::vector<Launch>& launches, double* out, Runner& runner) {
  std::int64_t next = 0;
  visit_launches(launches, [&](const auto& rule, const auto& access, const auto& meta,
                               int n_blocks) {
    using Rule = std::decay_t<decltype(rule)>;
    if constexpr (RuleSums<Rule>::value > 0) {
      runner.sums(rule, access, meta, n_blocks, out + next * kMaxSums);
      next += n_blocks;
    } else {
      throw std::invalid_argument("this family is not an update that sums");
    }
  });
}

}  // namespace FO_ISA
}  // namespace fusedoptim
