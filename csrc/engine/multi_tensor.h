// Multi-tensor apply: one update rule over every tensor of one or more launches,
// split into fixed-size chunks and spread over OpenMP threads.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "optimizers/kernel_spec.h"

namespace fusedoptim {

// Elements per work unit. Small tensors are packed together into one unit, large
// tensors are cut into units of this size, so threads stay balanced whatever the
// tensor sizes. A power of two keeps the alignment of each tensor's start.
constexpr std::size_t kChunkElems = std::size_t(1) << 15;

// Below this many elements in total, one thread does the whole step: waking a
// team costs more than it saves.
constexpr std::size_t kSerialThreshold = std::size_t(1) << 16;

// The update rule for one contiguous run of n elements. ptrs[k] points at the
// first element of operand k (param, grad, state buffers) for this run.
using ChunkFn = void (*)(const Hyper& hyper, void* const* ptrs, std::size_t n);

// A reduction over one contiguous run of n elements; ptrs as for ChunkFn (read only).
using ReduceFn = double (*)(const Hyper& hyper, void* const* ptrs, std::size_t n);

// An update rule that also returns sums over its run (a rule with kSums > 0, see
// optimizers/kernel_common.h): out[0..kMaxSums) get this run's sums of squares.
constexpr int kMaxSums = 2;
using SumFn = void (*)(const Hyper& hyper, void* const* ptrs, std::size_t n, double* out);

// How one operand's elements are stored. A launch whose operands are all float32 or
// all float64 runs its rule on them directly; one with 16-bit operands is "mixed": its
// float32 rule runs over tiles converted to float32 and rounded back (mixed_apply.cpp).
enum ElemType : std::uint8_t { kElemF32 = 0, kElemF64 = 1, kElemF16 = 2, kElemBF16 = 3 };
constexpr std::size_t elem_bytes(int t) { return t == kElemF64 ? 8 : t == kElemF32 ? 4 : 2; }

// What a mixed segment's block kernel (engine/mixed_block.h) needs beyond its pointers.
struct MixedArgs {
  const std::uint8_t* elem;  // each operand's ElemType
  bool master;               // ptrs[kMasterSlot] is the params' float32 master copy
  float unscale;             // the grads are multiplied by it as loaded (1: not)
};
using MixedFn = void (*)(const Hyper& hyper, const MixedArgs& args, void* const* ptrs,
                         std::size_t n);

// A run of n 16-bit values to float32 (load) and back, rounded to nearest even (store).
using LoadFn = void (*)(const void* src, float* dst, std::size_t n);
using StoreFn = void (*)(const float* src, void* dst, std::size_t n);
// The same store rounding stochastically (stochastic_rounding=True; the rule and the
// generator: engine/half_convert.h): `key` is the operand's rounding_key, `first` the
// index of src[0] in its tensor.
using StoreSrFn = void (*)(const float* src, void* dst, std::size_t n, std::uint64_t key,
                           std::uint64_t first);

// The 64-bit key of the random bits of one written operand in one step:
//   sm(sm(sm(sm(seed) ^ step) ^ tensor) ^ operand)
// with sm(z) = splitmix64's output function of z + 0x9E3779B97F4A7C15. `step`: the
// param's step count of this step (1 on the first), `tensor`: the param's flat index in
// its optimizer, `operand`: the operand's index in its family's operand table (0: the
// param, also when stored from its master copy). python/fusedoptim/_stochastic.py: the same.
std::uint64_t rounding_key(std::uint64_t seed, std::uint64_t step, std::uint64_t tensor,
                           std::uint64_t operand);
// The first three rounds, sm(sm(sm(seed) ^ step) ^ tensor): the CUDA kernels get it per
// tensor and finish each operand's key, sm(prekey ^ operand), on the device.
std::uint64_t rounding_prekey(std::uint64_t seed, std::uint64_t step, std::uint64_t tensor);

// A 16-bit param's float32 master copy rides in the last pointer of its slot: no
// family has that many operands (static_assert in kernel_common.h's rule_loop).
constexpr int kMasterSlot = kMaxOperands - 1;

struct TensorSlot {
  void* ptr[kMaxOperands];
  std::size_t numel;
  // Stochastic rounding (Launch::stochastic): the param's flat index in its optimizer and
  // its step count of this step, two inputs of rounding_key.
  std::uint64_t round_tensor = 0;
  std::uint64_t round_step = 0;
};

// One optimizer update (one family, one dtype) over a list of tensors.
struct Launch {
  int family = -1;            // enum Family, or kReduce / kDot
  ChunkFn fn = nullptr;       // the CPU kernel (engine/dispatch.h: bind_cpu_kernels)
  ReduceFn reduce = nullptr;  // set instead of fn for a reduction
  SumFn sums = nullptr;       // set instead of fn for an update that also sums
  Hyper hyper{};
  int n_operands = 0;
  std::size_t elem_size = 0;  // bytes per element of the params (of every operand unless mixed)
  std::vector<TensorSlot> tensors;
  // Mixed launches only (see ElemType): each operand's storage, the operands the rule
  // may write (bit k: operand k), and the conversions of the 16-bit ones (bound with fn).
  bool mixed = false;
  // Every param of the launch has a float32 master copy (TensorSlot::ptr[kMasterSlot]):
  // the rule reads and writes the master, and the param is stored as its rounding.
  bool master = false;
  int reduce_kind = -1;  // a reduction's enum Reduction: how mixed_reduce adds its tiles
  std::uint8_t elem[kMaxOperands] = {};
  unsigned written = 0;
  // The family's block kernel (engine/mixed_block.h) on the vector paths, used where it
  // rounds to nearest; null: tiles.
  MixedFn mixed_fn = nullptr;
  LoadFn load[kMaxOperands] = {};
  StoreFn store[kMaxOperands] = {};
  // 16-bit values written are rounded stochastically (store_sr), from rounding_key(
  // round_seed, each tensor's round_step and round_tensor, the operand).
  bool stochastic = false;
  std::uint64_t round_seed = 0;
  StoreSrFn store_sr[kMaxOperands] = {};
};

// One segment of a mixed launch: tiles of its operands converted to float32, the
// launch's float32 kernel over them, written operands rounded back (mixed_apply.cpp).
// `slot`: the segment's tensor, `first`: the index of its first element in it (the
// inputs of stochastic rounding).
void mixed_chunk(const Launch& l, void* const* ptrs, std::size_t n, const TensorSlot& slot,
                 std::size_t first);
// A float32 / float64 segment with loss scaling (Hyper::grad_unscale != 1): the rule
// over tiles whose grads are multiplied by grad_unscale first.
void scaled_chunk(const Launch& l, void* const* ptrs, std::size_t n);
// The same for an update that also sums (SumFn): out[0..kMaxSums) the segment's sums,
// its tiles' sums added in order.
void mixed_sums(const Launch& l, void* const* ptrs, std::size_t n, double* out);
// The same for a reduction (ReduceFn): its tiles' results combined in order, as
// combine_partials does (the largest for max |x|, NaN first; else the sum).
double mixed_reduce(const Launch& l, void* const* ptrs, std::size_t n);

// Runs every launch over all its tensors. Elementwise rules make the result
// independent of the thread count, bit for bit.
void multi_tensor_apply(const std::vector<Launch>& launches, int num_threads);

// The reduction of every launch over all its tensors: one partial per chunk of at
// most kChunkElems elements (cut the same way for any thread count), returned in
// chunk order for the caller to combine in that order.
std::vector<double> multi_tensor_reduce(const std::vector<Launch>& launches, int num_threads);

// Runs every launch's `sums` kernel (an update that also returns kMaxSums sums of
// squares) over all its tensors and returns each tensor's sums, kMaxSums per tensor
// in launch and tensor order. Each tensor's chunks are cut as for multi_tensor_reduce
// and their partials added in chunk order: bitwise the same for any thread count.
std::vector<double> multi_tensor_apply_sums(const std::vector<Launch>& launches, int num_threads);

}  // namespace fusedoptim
