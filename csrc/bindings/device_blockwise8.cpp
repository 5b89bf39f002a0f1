// blockwise8_check(...) / blockwise8_step(..., stream) of the device modules
// (fusedoptim._cuda, _cuda_emulator): the 8-bit blockwise optimizers over CUDA device
// arrays. The arguments are checked by the host module's code (bindings/blockwise8_parse.h)
// with the device ArrayKind, every array on one device; the kernels are enqueued on
// `stream` and nothing waits for the GPU.
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bindings/blockwise8_parse.h"
#include "bindings/device_arrays.h"
#include "cuda/blockwise8_meta.h"
#include "cuda/device_blockwise8.h"

#ifndef FUSEDOPTIM_DEVICE_MODULE
#error "define FUSEDOPTIM_DEVICE_MODULE (_cuda or _cuda_emulator)"
#endif

#define FO_Q8_STR2(x) #x
#define FO_Q8_STR(x) FO_Q8_STR2(x)

namespace fusedoptim {
namespace {

constexpr bool kEmulated =
    std::string_view(FO_Q8_STR(FUSEDOPTIM_DEVICE_MODULE)) == "_cuda_emulator";

// The emulator's "device" arrays are host memory at whatever address their interface
// claims: every range the step writes or reads must be mapped with that access, so that
// a bogus address raises instead of faulting (as device_module.cpp checks works).
void check_emulated_memory(const Q8Call& call) {
  if (kEmulated) check_host_memory(call.ranges);
}

void run_on_device(const Q8Call& call, const Q8Step& s, std::uintptr_t stream) {
  bool work = false;
  for (const Q8Tensor& t : call.tensors) work = work || t.numel > 0;
  if (!work) return;
  const int device = call.device < 0 ? 0 : call.device;
  py::gil_scoped_release release;
  device_blockwise8(call.tensors, s, call.qmap1, call.qmap2, device, stream);
}

}  // namespace

void bind_device_blockwise8(py::module_& m) {
  const Blockwise8Side device{&kDeviceArrays, &check_emulated_memory, &run_on_device};
  def_blockwise8<std::uintptr_t>(
      m, device,
      "As fusedoptim._core.blockwise8_step over CUDA device arrays (all on one device), "
      "enqueued on `stream` (a cudaStream_t as an int; 0: the default stream). Does not "
      "wait for the GPU. The maps' values are not read on the host (their bins are built "
      "on the device by the host table's rule).",
      py::arg("stream") = 0);
  m.attr("BLOCKWISE8_TENSORS") = q8_meta::kTensors;
  m.attr("BLOCKWISE8_UNIT") = q8_meta::kUnit;
}

}  // namespace fusedoptim
