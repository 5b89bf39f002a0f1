// What the CUDA launchers (cuda_apply.cu, blockwise8_cuda.cu) share: CUDA errors as
// exceptions, and the device made current for a scope. nvcc only.
#pragma once
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace fusedoptim {
namespace cuda_util {

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err));
}

// Makes `device` current for the scope, restoring the previous one.
struct DeviceScope {
  int previous = -1;
  explicit DeviceScope(int device) {
    check(cudaGetDevice(&previous), "cudaGetDevice");
    if (previous != device) check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() {
    int now = -1;
    if (cudaGetDevice(&now) == cudaSuccess && now != previous) cudaSetDevice(previous);
  }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;
};

}  // namespace cuda_util
}  // namespace fusedoptim
