// What the device modules (fusedoptim._cuda, _cuda_emulator) say about themselves: the
// CUDA runtime and devices (device_info), and how cuda_meta::pack cuts tensors into
// launches (pack_layout, BLOCK_THREADS, CHUNK, ILP, CAPACITY), for the tests of the
// packing limits. No array is read here.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "bindings/bindings.h"
#include "cuda/device_apply.h"
#include "cuda/launch_meta.h"

namespace fusedoptim {
namespace {

py::dict report_dict() {
  const DeviceReport r = device_report();
  py::dict d;
  d["emulated"] = r.emulated;
  d["runtime_version"] = r.runtime_version;
  d["architectures"] = r.architectures;
  d["error"] = r.error.empty() ? py::object(py::none()) : py::object(py::str(r.error));
  py::list devices;
  for (const DeviceReport::Device& dev : r.devices) {
    py::dict one;
    one["name"] = dev.name;
    one["compute_capability"] = py::make_tuple(dev.major, dev.minor);
    devices.append(one);
  }
  d["devices"] = devices;
  return d;
}

// How cuda_meta::pack cuts tensors of these sizes into launches, without memory: one
// list per launch of (tensor, chunk) per block. For tests of the packing limits.
template <int K>
py::list layout(const std::vector<std::size_t>& numels, std::size_t elem_size) {
  Launch l;
  l.elem_size = elem_size;
  l.n_operands = K;
  for (std::size_t i = 0; i < numels.size(); ++i) {
    TensorSlot slot{};
    slot.numel = numels[i];
    // Never dereferenced: the address says which tensor a meta slot holds.
    for (int k = 0; k < K; ++k) slot.ptr[k] = reinterpret_cast<void*>((i + 1) << 12);
    l.tensors.push_back(slot);
  }
  py::list out;
  cuda_meta::TensorListMeta<K> meta;
  cuda_meta::pack<K>(l, meta, [&](const cuda_meta::TensorListMeta<K>& m, int n_blocks) {
    py::list blocks;
    for (int b = 0; b < n_blocks; ++b) {
      const auto addr = reinterpret_cast<std::uintptr_t>(m.addr[0][m.block_tensor[b]]);
      blocks.append(py::make_tuple((addr >> 12) - 1, m.block_chunk[b]));
    }
    out.append(blocks);
  });
  return out;
}

// pack_layout builds one Python tuple per block: more than this many is no test of
// the packing (256 full launches) and would take minutes and gigabytes.
constexpr std::size_t kMaxLayoutBlocks = std::size_t(1) << 18;

py::list pack_layout(const std::vector<std::size_t>& numels, std::size_t elem_size,
                     int n_operands) {
  if (elem_size != 2 && elem_size != 4 && elem_size != 8)
    throw py::value_error("elem_size: 2, 4 or 8 (bytes per element), got " +
                          std::to_string(elem_size));
  std::size_t blocks = 0;
  for (std::size_t n : numels) {
    blocks += n / cuda_meta::kChunk + (n % cuda_meta::kChunk != 0);  // no overflow: n < 2^64
    if (blocks > kMaxLayoutBlocks)
      throw py::value_error("numels: more than " + std::to_string(kMaxLayoutBlocks) +
                            " blocks of " + std::to_string(cuda_meta::kChunk) + " elements");
  }
  switch (n_operands) {
    case 1: return layout<1>(numels, elem_size);
    case 2: return layout<2>(numels, elem_size);
    case 3: return layout<3>(numels, elem_size);
    case 4: return layout<4>(numels, elem_size);
    case 5: return layout<5>(numels, elem_size);
    default: throw py::value_error("n_operands: 1 to 5");
  }
}

}  // namespace

void bind_device_info(py::module_& m) {
  m.def("pack_layout", &pack_layout, py::arg("numels"), py::arg("elem_size"),
        py::arg("n_operands"),
        "The launches a list of tensors of these sizes is cut into: per launch, a list of "
        "(tensor index, chunk index) per block. No memory is touched.");
  m.attr("BLOCK_THREADS") = cuda_meta::kBlockThreads;
  m.attr("CHUNK") = cuda_meta::kChunk;
  m.attr("ILP") = cuda_meta::kILP;
  py::dict caps;
  caps[py::int_(1)] = py::make_tuple(cuda_meta::Capacity<1>::kTensors, cuda_meta::Capacity<1>::kBlocks);
  caps[py::int_(2)] = py::make_tuple(cuda_meta::Capacity<2>::kTensors, cuda_meta::Capacity<2>::kBlocks);
  caps[py::int_(3)] = py::make_tuple(cuda_meta::Capacity<3>::kTensors, cuda_meta::Capacity<3>::kBlocks);
  caps[py::int_(4)] = py::make_tuple(cuda_meta::Capacity<4>::kTensors, cuda_meta::Capacity<4>::kBlocks);
  caps[py::int_(5)] = py::make_tuple(cuda_meta::Capacity<5>::kTensors, cuda_meta::Capacity<5>::kBlocks);
  m.attr("CAPACITY") = caps;
  m.def("device_info", &report_dict,
        "The CUDA runtime, the architectures compiled for, and the devices found.");
}

}  // namespace fusedoptim
