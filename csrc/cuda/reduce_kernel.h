// Multi-tensor reductions on the device (norms, finiteness, dot products): each block
// reduces its chunk to one float64 partial, written to its own slot of an output
// array in launch and chunk order; the host adds the partials in that order, so a
// result does not depend on how the GPU schedules blocks. Written as host-and-device
// phases (per-thread accumulation, then a fixed tree over the block's threads) so the
// host emulator runs the same code in the same order as the GPU.
#pragma once
#include <type_traits>

#include "cuda/access.h"
#include "cuda/launch_meta.h"
#include "optimizers/kernel_common.h"
#include "optimizers/kernel_spec.h"

namespace fusedoptim {
namespace FO_ISA {

// One reduction of enum Reduction: per-element value in double, combined by + (or by
// max, NaN winning, for kMaxAbs; every value is >= 0 there, so 0 is the identity too).
template <typename T, int KIND>
struct ReduceOp {
  static constexpr int kOperands = KIND == kDotProduct ? 2 : 1;
  double s;                  // kSumSquares: the scale; kSumPow: the exponent p
  double* out;               // one partial per block of the whole call
  std::int64_t first_block;  // this launch's first slot in `out`

  // x: the element of the first list; y: of the second (kDotProduct only).
  FO_HD double value(T xt, T yt) const {
    const double x = static_cast<double>(xt);
    if (KIND == kSumSquares) {
      const double y = x * s;
      return y * y;
    }
    if (KIND == kMaxAbs) return fo_fabs(x);
    if (KIND == kSumPow) return pow(fo_fabs(x), s);
    if (KIND == kFiniteProbe) return x * 0.0;  // 0, or NaN for inf and NaN
    return x * static_cast<double>(yt);  // kDotProduct
  }
  FO_HD static double combine(double a, double b) {
    return KIND == kMaxAbs ? max_nan(a, b) : a + b;
  }
};

// Phase 1: thread `thread` of block `block` folds its strided elements of the chunk,
// read through `access` (16-bit arrays: converted to float32 as on the host).
template <class Op, class Access, int K>
FO_HD double reduce_thread(const Op& op, const Access& access,
                           const cuda_meta::TensorListMeta<K>& meta, int block, int thread,
                           int threads) {
  const cuda_meta::BlockSpan span = cuda_meta::block_span(meta, block);
  const int t = span.tensor;
  const std::int64_t begin = span.begin, end = span.end;
  void* ptr[K];
  cuda_meta::tensor_ptrs<void, K>(meta, t, ptr);
  double acc = 0.0;
  for (std::int64_t i = begin + thread; i < end; i += threads) {
    const auto x = access.load(ptr, 0, i);
    const auto y = K > 1 ? access.load(ptr, K - 1, i) : x;
    acc = Op::combine(acc, op.value(x, y));
  }
  return acc;
}

// Phase 2, one level of the tree over the block's partials in s[]: s[i] += s[i + stride].
template <class Op>
FO_HD void reduce_tree_step(double* s, int thread, int stride) {
  if (thread < stride) s[thread] = Op::combine(s[thread], s[thread + stride]);
}

#if defined(__CUDACC__)
template <class Op, class Access, int K>
__global__ void __launch_bounds__(cuda_meta::kBlockThreads)
    reduce_kernel(const Op op, const Access access,
                  const __grid_constant__ cuda_meta::TensorListMeta<K> meta) {
  __shared__ double s[cuda_meta::kBlockThreads];
  s[threadIdx.x] = reduce_thread(op, access, meta, blockIdx.x, threadIdx.x, blockDim.x);
  __syncthreads();
  for (int stride = cuda_meta::kBlockThreads / 2; stride > 0; stride >>= 1) {
    reduce_tree_step<Op>(s, threadIdx.x, stride);
    __syncthreads();
  }
  if (threadIdx.x == 0) op.out[op.first_block + blockIdx.x] = s[0];
}
#endif

// Every launch of a reduction through `runner.reduce(op, access, meta, n_blocks)`; the
// partials fill out[0 .. number of chunks).
template <class Runner>
void run_reductions(const std::vector<Launch>& launches, int kind, double scalar, double* out,
                    Runner& runner) {
  std::int64_t next = 0;
  auto go = [&](const Launch& l, auto zero, auto kind_c) {
    using T = decltype(zero);
    using Op = ReduceOp<T, decltype(kind_c)::value>;
    constexpr int K = Op::kOperands;
    Op op{scalar, out, 0};
    auto launch = [&](const auto& access) {
      cuda_meta::TensorListMeta<K> meta;
      cuda_meta::pack<K>(l, meta, [&](const cuda_meta::TensorListMeta<K>& m, int n_blocks) {
        op.first_block = next;
        runner.reduce(op, access, m, n_blocks);
        next += n_blocks;
      });
    };
    if constexpr (std::is_same_v<T, float>) {
      if (l.mixed) return launch(mixed_access<K>(l));  // no master, no rounding: read only
    }
    launch(PlainAccess<T>{});
  };
  for (const Launch& l : launches) {
    auto by_kind = [&](auto zero) {
      switch (kind) {
        case kSumSquares: return go(l, zero, std::integral_constant<int, kSumSquares>{});
        case kMaxAbs: return go(l, zero, std::integral_constant<int, kMaxAbs>{});
        case kSumPow: return go(l, zero, std::integral_constant<int, kSumPow>{});
        case kFiniteProbe: return go(l, zero, std::integral_constant<int, kFiniteProbe>{});
        case kDotProduct: return go(l, zero, std::integral_constant<int, kDotProduct>{});
        default: throw std::invalid_argument("kind: unknown reduction");
      }
    };
    if (l.mixed || l.elem_size == 4)
      by_kind(0.0f);
    else
      by_kind(0.0);
  }
}

}  // namespace FO_ISA
}  // namespace fusedoptim
