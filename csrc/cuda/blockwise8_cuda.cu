// The CUDA side of device_blockwise8.h: the 8-bit blockwise kernel of each kind
// (cuda/blockwise8_device.h), launched on the caller's stream.
#define FO_ISA cuda
#include <cuda_runtime.h>

#include "cuda/blockwise8_device.h"
#include "cuda/cuda_runtime_util.h"
#include "cuda/device_blockwise8.h"

namespace fusedoptim {
namespace {

struct Launcher {
  cudaStream_t stream;
  template <int KIND>
  void run(const cuda::q8dev::Args& a, const q8_meta::Meta& meta, int n_units) {
    cuda::q8dev::blockwise8_kernel<KIND><<<n_units, q8_meta::kThreads, 0, stream>>>(a, meta);
    cuda_util::check(cudaGetLastError(), "kernel launch");
  }
};

}  // namespace

void device_blockwise8(const std::vector<Q8Tensor>& tensors, const Q8Step& step,
                       const float* qmap1, const float* qmap2, int device, std::uintptr_t stream) {
  cuda_util::DeviceScope scope(device);
  Launcher launcher{reinterpret_cast<cudaStream_t>(stream)};
  cuda::q8dev::run_blockwise8(tensors, step, qmap1, qmap2, launcher);
}

}  // namespace fusedoptim
