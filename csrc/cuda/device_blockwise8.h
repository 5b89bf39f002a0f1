// What the device bindings need to run an 8-bit blockwise step on device arrays:
// blockwise8_cuda.cu implements it with the CUDA runtime, blockwise8_emulated.cpp runs the
// same kernel body (cuda/blockwise8_device.h) on the host, for tests without a GPU.
#pragma once
#include <cstdint>
#include <vector>

#include "optimizers/blockwise8_run.h"

namespace fusedoptim {

// Enqueues the step's launches on `stream` (a cudaStream_t as an integer; 0 is the
// default stream) of device `device`; returns without waiting for the GPU. Every pointer
// is device memory of that device; qmap2 is read for adam only, the maps only when a
// tensor is 8-bit.
void device_blockwise8(const std::vector<Q8Tensor>& tensors, const Q8Step& step,
                       const float* qmap1, const float* qmap2, int device, std::uintptr_t stream);

}  // namespace fusedoptim
