// What the device bindings need from the GPU side: run a step's launches, say
// which device a pointer lives on, and describe the build and the devices.
// cuda_apply.cu implements it with the CUDA runtime; emulated_apply.cpp runs the
// same kernel body on the host, for tests on machines without a GPU.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/multi_tensor.h"

namespace fusedoptim {

// Enqueues every launch on `stream` (a cudaStream_t as an integer; 0 is the default
// stream) of device `device`. Returns without waiting for the GPU.
void device_apply(const std::vector<Launch>& launches, int device, std::uintptr_t stream);

// Enqueues every launch of a step whose rules also sum (kSums > 0): the update, and
// kMaxSums float64 partials per chunk into out, in launch, tensor and chunk order.
void device_apply_sums(const std::vector<Launch>& launches, double* out, int device,
                       std::uintptr_t stream);

// Enqueues reduction `kind` (enum Reduction) of every launch on `stream`: one float64
// partial per chunk into out[0 .. chunks), in launch and chunk order.
void device_reduce(const std::vector<Launch>& launches, int kind, double scalar, double* out,
                   int device, std::uintptr_t stream);

// Copies n doubles from device memory to the host once `stream` has run up to here.
void device_read(const double* src, double* dst, std::size_t n, int device,
                 std::uintptr_t stream);

// The CUDA device that owns `ptr`; throws std::invalid_argument if it is not device
// memory.
int pointer_device(const void* ptr);

struct DeviceReport {
  bool emulated = false;
  std::string runtime_version;   // e.g. "13.0"
  std::string architectures;     // what the kernels were compiled for
  std::string error;             // why no device can be used, if so
  struct Device {
    std::string name;
    int major = 0, minor = 0;
  };
  std::vector<Device> devices;
};
DeviceReport device_report();

}  // namespace fusedoptim
