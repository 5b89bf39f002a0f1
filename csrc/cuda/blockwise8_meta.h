// How the 8-bit blockwise step over a list of tensors is cut into CUDA launches: each
// block of the grid does one unit, kUnitBlocks quantization blocks of 256 values of one
// tensor (or kUnit values of a tensor with float32 moments), and the tensors' addresses,
// sizes and first units ride in the kernel's arguments (no copy to the device, nothing
// waits). A list of more tensors than one launch holds is cut into several launches.
// Plain C++: the host emulator packs and runs the very same metadata.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "optimizers/blockwise8.h"
#include "optimizers/blockwise8_run.h"

namespace fusedoptim {
namespace q8_meta {

constexpr int kThreads = 256;  // a CUDA block's threads: one per value of a quantization block
static_assert(kThreads == static_cast<int>(blockwise8::kBlock), "one thread per value");
constexpr int kUnitBlocks = 16;  // quantization blocks per CUDA block
constexpr std::int64_t kUnit = kUnitBlocks * static_cast<std::int64_t>(blockwise8::kBlock);
// Tensors per launch: 6 addresses, the size, the 8-bit flag and the first unit of each
// (61 bytes) in about 28 KB of kernel arguments (CUDA 12.1+ allows 32,764 bytes).
constexpr int kTensors = 448;
// Units (grid blocks) per launch, well under CUDA's 2^31 - 1.
constexpr std::int64_t kMaxUnits = std::int64_t(1) << 30;

struct Meta {
  float* p[kTensors];
  const float* g[kTensors];
  void* s1[kTensors];  // uint8 codes, or float32 moments
  void* s2[kTensors];  // adam only
  float* a1[kTensors];
  float* a2[kTensors];  // adam only
  std::int64_t numel[kTensors];
  std::int32_t first_unit[kTensors + 1];  // tensor t has units [first_unit[t], first_unit[t + 1])
  unsigned char q8[kTensors];
  int n_tensors;
};
static_assert(sizeof(Meta) < 28500, "kernel arguments stay under CUDA's 32,764-byte limit");

// The units of a tensor of n values.
inline std::int64_t units_of(std::size_t n) {
  return (static_cast<std::int64_t>(n) + kUnit - 1) / kUnit;
}

// Packs every non-empty tensor into metas and calls emit(meta, n_units) for each full or
// final one. `meta` is reused between calls: emit must consume it at once (a kernel
// launch copies its arguments).
template <typename Emit>
void pack(const std::vector<Q8Tensor>& ts, Meta& meta, Emit&& emit) {
  int n = 0;
  std::int64_t units = 0;
  for (const Q8Tensor& t : ts) {
    const std::int64_t u = units_of(t.numel);
    if (u == 0) continue;
    if (u > kMaxUnits) throw std::invalid_argument("a tensor too large for one CUDA launch");
    if (n == kTensors || units + u > kMaxUnits) {
      meta.n_tensors = n;
      emit(meta, static_cast<int>(units));
      n = 0;
      units = 0;
    }
    meta.p[n] = t.p;
    meta.g[n] = t.g;
    meta.s1[n] = t.s1;
    meta.s2[n] = t.s2;
    meta.a1[n] = t.a1;
    meta.a2[n] = t.a2;
    meta.numel[n] = static_cast<std::int64_t>(t.numel);
    meta.q8[n] = t.q8;
    meta.first_unit[n] = static_cast<std::int32_t>(units);
    units += u;
    meta.first_unit[++n] = static_cast<std::int32_t>(units);
  }
  if (n > 0) {
    meta.n_tensors = n;
    emit(meta, static_cast<int>(units));
  }
}

}  // namespace q8_meta
}  // namespace fusedoptim
