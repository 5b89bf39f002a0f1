// The CUDA side of device_apply.h: the multi-tensor kernels of every family and flag
// combination (from the shared rules), launched on the caller's stream.
#define FO_ISA cuda
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda/cuda_runtime_util.h"
#include "cuda/device_apply.h"
#include "cuda/mta_kernel.h"
#include "cuda/reduce_kernel.h"

#ifndef FUSEDOPTIM_CUDA_ARCHS
#define FUSEDOPTIM_CUDA_ARCHS "unknown"
#endif

namespace fusedoptim {
namespace {

using cuda_util::check;
using cuda_util::DeviceScope;

struct Launcher {
  cudaStream_t stream;
  template <class Rule, class Access, int KM>
  void run(const Rule& rule, const Access& access, const cuda_meta::TensorListMeta<KM>& meta,
           int n_blocks) {
    cuda::mta_kernel<Rule, Access, KM>
        <<<n_blocks, cuda_meta::kBlockThreads, 0, stream>>>(rule, access, meta);
    check(cudaGetLastError(), "kernel launch");
  }
  template <class Rule, class Access, int KM>
  void sums(const Rule& rule, const Access& access, const cuda_meta::TensorListMeta<KM>& meta,
            int n_blocks, double* out) {
    cuda::sums_kernel<Rule, Access, KM>
        <<<n_blocks, cuda_meta::kBlockThreads, 0, stream>>>(rule, access, meta, out);
    check(cudaGetLastError(), "kernel launch");
  }
  template <class Op, class Access, int K>
  void reduce(const Op& op, const Access& access, const cuda_meta::TensorListMeta<K>& meta,
              int n_blocks) {
    cuda::reduce_kernel<Op, Access, K>
        <<<n_blocks, cuda_meta::kBlockThreads, 0, stream>>>(op, access, meta);
    check(cudaGetLastError(), "kernel launch");
  }
};

}  // namespace

void device_apply(const std::vector<Launch>& launches, int device, std::uintptr_t stream) {
  DeviceScope scope(device);
  Launcher launcher{reinterpret_cast<cudaStream_t>(stream)};
  cuda::run_launches(launches, launcher);
}

void device_apply_sums(const std::vector<Launch>& launches, double* out, int device,
                       std::uintptr_t stream) {
  DeviceScope scope(device);
  Launcher launcher{reinterpret_cast<cudaStream_t>(stream)};
  cuda::run_sum_launches(launches, out, launcher);
}

void device_reduce(const std::vector<Launch>& launches, int kind, double scalar, double* out,
                   int device, std::uintptr_t stream) {
  DeviceScope scope(device);
  Launcher launcher{reinterpret_cast<cudaStream_t>(stream)};
  cuda::run_reductions(launches, kind, scalar, out, launcher);
}

void device_read(const double* src, double* dst, std::size_t n, int device,
                 std::uintptr_t stream) {
  DeviceScope scope(device);
  const auto s = reinterpret_cast<cudaStream_t>(stream);
  check(cudaMemcpyAsync(dst, src, n * sizeof(double), cudaMemcpyDeviceToHost, s),
        "cudaMemcpyAsync");
  check(cudaStreamSynchronize(s), "cudaStreamSynchronize");
}

int pointer_device(const void* ptr) {
  cudaPointerAttributes attr{};
  const cudaError_t err = cudaPointerGetAttributes(&attr, ptr);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error state of this query
    throw std::invalid_argument(std::string("cannot query the pointer: ") + cudaGetErrorString(err));
  }
  if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
    throw std::invalid_argument("the array's memory is not CUDA device memory");
  return attr.device;
}

DeviceReport device_report() {
  DeviceReport r;
  int version = 0;
  cudaRuntimeGetVersion(&version);
  r.runtime_version = std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
  r.architectures = FUSEDOPTIM_CUDA_ARCHS;
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();
    r.error = cudaGetErrorString(err);
    return r;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, d) != cudaSuccess) continue;
    r.devices.push_back({prop.name, prop.major, prop.minor});
  }
  return r;
}

}  // namespace fusedoptim
