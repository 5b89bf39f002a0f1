// The tables of a quantization map (a 256-value float32 map of the 8-bit optimizers):
// the quantizer's 65,536-bin table, the map as byte planes and the bins' binary search
// (the byte-permute kernels'). Building them costs about 0.4 ms a map, more than a whole
// step of a small model, so each distinct map's tables are built once and kept: the last
// kKeptMaps maps a process used (bitsandbytes' two maps in nearly every program).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "optimizers/blockwise8.h"

namespace fusedoptim {

struct Q8MapTables {
  float q[256];                    // the map they were built from
  std::vector<std::uint8_t> lut;   // blockwise8::kLutSize bins and kLutPad bytes of padding
  alignas(64) std::uint8_t planes[blockwise8::kPlaneBytes];   // byte b of q[i] at b * 256 + i
  alignas(64) std::uint16_t search[blockwise8::kSearchWords];  // valid where has_search
  bool has_search;  // false where the lut has no binary search (lut[65535] < 255)
};

constexpr int kKeptMaps = 8;

// The tables of this map, from the kept ones when a map of the same bits was seen, else
// built (and kept, the least recently used map going). Thread-safe; the tables never
// change, and the pointer keeps them alive while a step uses them.
std::shared_ptr<const Q8MapTables> blockwise8_tables(const float* qmap);

// The quantizer table of a sorted 256-value map (blockwise8::kLutSize bins and
// blockwise8::kLutPad bytes of padding), by one merge sweep.
std::vector<std::uint8_t> blockwise8_lut(const float* qmap);

// 256 bytes, 64-byte aligned: i with its 8 bits reversed.
const std::uint8_t* blockwise8_bit_reversal();

}  // namespace fusedoptim
