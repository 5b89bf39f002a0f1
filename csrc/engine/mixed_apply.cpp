// Steps over float16 / bfloat16 operands (torch's "opmath") on the scalar path, and the
// reductions and summing rules of 16-bit operands on every path (the vector paths' steps
// run one vector at a time in registers: engine/mixed_block.h). Each segment is cut into
// tiles; a tile of every 16-bit operand is converted to float32 in a buffer on the
// stack (float32 operands are used where they lie), the launch's float32 kernel runs
// over the tile, and every 16-bit operand the rule may write is rounded back once.
// One pass over memory, as for float32: the tiles stay in L1. The result of an element
// depends only on its own values, so it is the same for any tiling and thread count.
//
// Cost: each value goes through L1 three times (converted in, read and written by the
// rule, converted out), so these steps are bound by L1 stores, not by memory: bfloat16
// Adam on tiles runs at about a third of its memory roofline.
//
// The same tiles carry loss scaling (Hyper::grad_unscale != 1): the grads' tile is
// multiplied by 1 / scale before the rule runs, so the rules never see the scale.
#include <cstddef>
#include <cstdint>

#include "engine/multi_tensor.h"

namespace fusedoptim {

namespace {
// 256 values x 5 operands x 4 bytes = 5 KB of buffers, well inside L1 (measured on
// bfloat16 Adam, resnet50's size: 128-256 best, 512 a third slower, 2048 three quarters).
// Each row is padded by 64 bytes so that the rows do not lie 4 KB apart, where loads
// from one would wait on stores to another (4K aliasing).
constexpr std::size_t kTile = 256;
constexpr std::size_t kPad = 16;

// The tiles of one segment: run(tile pointers, m) between the loads and the stores.
// `slot` and `first` (the index of the segment's first element in its tensor): for
// stochastic rounding only.
template <class Run>
void each_tile(const Launch& l, void* const* ptrs, std::size_t n, Run run,
               const TensorSlot* slot = nullptr, std::size_t first = 0) {
  alignas(64) float buf[kMaxOperands][kTile + kPad];
  const int K = l.n_operands;
  const bool stochastic = l.stochastic && slot != nullptr;
  std::uint64_t keys[kMaxOperands] = {};
  if (stochastic)
    for (int k = 0; k < K; ++k)
      if (ptrs[k] && l.elem[k] != kElemF32 && (l.written >> k & 1u))
        keys[k] = rounding_key(l.round_seed, slot->round_step, slot->round_tensor,
                               static_cast<std::uint64_t>(k));
  const float unscale = static_cast<float>(l.hyper.grad_unscale);  // a power of two: exact
  for (std::size_t off = 0; off < n; off += kTile) {
    const std::size_t m = n - off < kTile ? n - off : kTile;
    void* tile[kMaxOperands] = {};
    for (int k = 0; k < K; ++k) {
      if (!ptrs[k]) continue;  // an operand the flags do not use
      char* at = static_cast<char*>(ptrs[k]) + off * elem_bytes(l.elem[k]);
      if (k == 0 && l.master) {  // the rule works on the float32 master, in place
        tile[0] = static_cast<float*>(ptrs[kMasterSlot]) + off;
      } else if (l.elem[k] == kElemF32) {
        tile[k] = at;
      } else {
        l.load[k](at, buf[k], m);
        tile[k] = buf[k];
      }
    }
    if (unscale != 1.0f && tile[1]) {  // loss scaling: the grads' tile times 1 / scale
      const float* g = static_cast<const float*>(tile[1]);
      for (std::size_t i = 0; i < m; ++i) buf[1][i] = g[i] * unscale;
      tile[1] = buf[1];
    }
    run(tile, m);
    for (int k = 0; k < K; ++k) {
      if (!ptrs[k] || l.elem[k] == kElemF32 || !(l.written >> k & 1u)) continue;
      char* at = static_cast<char*>(ptrs[k]) + off * elem_bytes(l.elem[k]);
      if (stochastic)
        l.store_sr[k](static_cast<const float*>(tile[k]), at, m, keys[k], first + off);
      else
        l.store[k](static_cast<const float*>(tile[k]), at, m);
    }
  }
}

// A float32 or float64 launch with loss scaling: the same tiles for operand 1 only, the
// rule reading g * (1 / scale), exact for a power of two, as torch's g / scale.
template <typename T>
void scaled_tiles(const Launch& l, void* const* ptrs, std::size_t n) {
  alignas(64) T buf[kTile];
  const T unscale = static_cast<T>(l.hyper.grad_unscale);
  void* tile[kMaxOperands];
  for (std::size_t off = 0; off < n; off += kTile) {
    const std::size_t m = n - off < kTile ? n - off : kTile;
    for (int k = 0; k < l.n_operands; ++k)
      tile[k] = ptrs[k] ? static_cast<T*>(ptrs[k]) + off : nullptr;
    const T* g = static_cast<const T*>(ptrs[1]) + off;
    for (std::size_t i = 0; i < m; ++i) buf[i] = g[i] * unscale;
    tile[1] = buf;
    l.fn(l.hyper, tile, m);
  }
}
}  // namespace

void scaled_chunk(const Launch& l, void* const* ptrs, std::size_t n) {
  if (l.elem_size == 4)
    scaled_tiles<float>(l, ptrs, n);
  else
    scaled_tiles<double>(l, ptrs, n);
}

void mixed_chunk(const Launch& l, void* const* ptrs, std::size_t n, const TensorSlot& slot,
                 std::size_t first) {
  // Stochastic rounding stays on the tiles: its stores, four 32-bit multiplies a value,
  // are faster in the tiles' tight loops than inside the blocks (bfloat16 Adam at 1
  // thread: 1.75 against 2.2 ns a value).
  if (l.mixed_fn && !l.stochastic) {
    const MixedArgs args{l.elem, l.master, static_cast<float>(l.hyper.grad_unscale)};
    l.mixed_fn(l.hyper, args, ptrs, n);
    return;
  }
  each_tile(
      l, ptrs, n, [&](void* const* tile, std::size_t m) { l.fn(l.hyper, tile, m); }, &slot, first);
}

double mixed_reduce(const Launch& l, void* const* ptrs, std::size_t n) {
  double r = 0.0;
  each_tile(l, ptrs, n, [&](void* const* tile, std::size_t m) {
    const double part = l.reduce(l.hyper, tile, m);
    if (l.reduce_kind == kMaxAbs)
      r = (r != r || part != part) ? (r != r ? r : part) : (part > r ? part : r);
    else
      r += part;
  });
  return r;
}

void mixed_sums(const Launch& l, void* const* ptrs, std::size_t n, double* out) {
  for (int k = 0; k < kMaxSums; ++k) out[k] = 0.0;
  each_tile(l, ptrs, n, [&](void* const* tile, std::size_t m) {
    double part[kMaxSums] = {};
    l.sums(l.hyper, tile, m, part);
    for (int k = 0; k < kMaxSums; ++k) out[k] += part[k];  // in tile order: fixed
  });
}

}  // namespace fusedoptim
