// The ArrayKind of CUDA device arrays (objects with __cuda_array_interface__), and the
// memory check of the host emulation, whose "device" arrays are host memory.
#pragma once
#include <cstdint>
#include <vector>

#include "bindings/array_checks.h"

namespace fusedoptim {
extern const ArrayKind kDeviceArrays;

// [lo, hi) of host memory that a kernel reads, or reads and writes.
struct HostRange {
  std::uintptr_t lo, hi;
  bool written;
};

// The index of the first range that does not lie wholly in mappings of this process
// with the access it needs (read, or read and write), or -1 if all do. Reads
// /proc/self/maps once; where there is none (not Linux), every range passes.
long first_unmapped(const std::vector<HostRange>& ranges);

// The host emulation's check of a parsed call: every range it writes and reads is host
// memory this process may write or read; else ValueError naming the array, so a bogus
// address raises instead of faulting.
struct Parsed;
void check_host_memory(const Parsed& p);
}  // namespace fusedoptim
