// The ArrayKind of CUDA device arrays (objects with __cuda_array_interface__).
#pragma once
#include "bindings/array_checks.h"

namespace fusedoptim {
extern const ArrayKind kDeviceArrays;
}  // namespace fusedoptim
