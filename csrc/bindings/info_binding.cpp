// build_info(), threads, ISA selection and the kernel table's description.
#include <pybind11/stl.h>

#include <string>

#include "bindings/array_checks.h"
#include "bindings/bindings.h"
#include "engine/dispatch.h"
#include "engine/multi_tensor.h"
#include "engine/parallel.h"
#include "optimizers/blockwise8_run.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusedoptim {
namespace {

constexpr int kMaxThreads = 1024;  // more than the hardware threads of any one machine

std::string compiler() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

py::dict build_info() {
  py::dict d;
  d["compiler"] = compiler();
  d["openmp"] = openmp_enabled();
#ifdef _OPENMP
  d["openmp_version"] = _OPENMP;
#else
  d["openmp_version"] = py::none();
#endif
  d["num_threads"] = get_num_threads();
  py::list compiled, supported;
  for (Isa isa : compiled_isas()) {
    compiled.append(isa_name(isa));
    if (cpu_supports(isa)) supported.append(isa_name(isa));
  }
  d["isa_compiled"] = compiled;
  d["isa_supported"] = supported;
  d["isa"] = isa_name(active_isa());
  d["blockwise8_kernels"] = blockwise8_path();
  d["mixed_kernels"] = mixed_path();
  const CpuFeatures& f = cpu_features();
  py::dict cpu;
  cpu["sse4_2"] = f.sse42;
  cpu["avx"] = f.avx;
  cpu["avx2"] = f.avx2;
  cpu["fma"] = f.fma;
  cpu["avx512f"] = f.avx512f;
  cpu["avx512bw"] = f.avx512bw;
  cpu["avx512vbmi"] = f.avx512vbmi;
  cpu["os_avx"] = f.os_avx;
  cpu["os_avx512"] = f.os_avx512;
  d["cpu_features"] = cpu;
  d["chunk_elems"] = kChunkElems;
  return d;
}

py::dict kernel_specs() {
  py::dict out;
  for (int f = 0; f < kNumSpecs; ++f) {
    const FamilySpec& s = family_spec(f);
    py::list operands, scalars;
    py::dict flags;
    for (int k = 0; k < s.n_operands; ++k)
      operands.append(py::make_tuple(s.operands[k].name, s.operands[k].written, s.operands[k].needs));
    for (int k = 0; k < s.n_scalars; ++k) scalars.append(s.scalars[k]);
    for (int k = 0; k < s.n_flags; ++k) flags[s.flags[k]] = 1u << k;
    py::dict d;
    d["id"] = f;
    d["operands"] = operands;
    d["scalars"] = scalars;
    d["flags"] = flags;
    d["sums"] = s.n_sums;
    out[s.name] = d;
  }
  return out;
}

}  // namespace

void bind_info(py::module_& m) {
  m.def("build_info", &build_info, "What was compiled and what runs.");
  m.def("kernel_specs", &kernel_specs, "Operands, scalars and flag bits of every kernel family.");
  m.def("get_num_threads", &get_num_threads);
  m.def(
      "set_num_threads",
      [](int n) {
        // A team of millions of threads is no speed-up and fails inside the OpenMP
        // runtime, which ends the process: refused here.
        if (n > kMaxThreads)
          throw py::value_error("n: thread count must be between 1 and " +
                                std::to_string(kMaxThreads) + ", got " + std::to_string(n));
        set_num_threads(n);
      },
      py::arg("n"), "Threads the kernels use: 1 to 1024.");
  m.def("set_isa", &set_isa, py::arg("name"), "Force an ISA path (scalar, avx2, avx512).");
  m.def("get_isa", [] { return std::string(isa_name(active_isa())); });
  m.def(
      "_stochastic_round",
      [](const py::object& src, const py::object& dst, std::uint64_t key, std::uint64_t first) {
        // Testing only; checks enough that no call can write out of bounds.
        const ArrayView s = kHostArrays.view(src, Label{"src", nullptr, Label::kWhole});
        const ArrayView d = kHostArrays.view(dst, Label{"dst", nullptr, Label::kWhole});
        if (step_dtype(s, Label{"src", nullptr, Label::kWhole}, true) != DType::F32)
          throw py::type_error("src: expected float32");
        const DType dt = step_dtype(d, Label{"dst", nullptr, Label::kWhole}, true);
        if (dt != DType::F16 && dt != DType::BF16) throw py::type_error("dst: expected 16-bit");
        check_layout(s, Label{"src", nullptr, Label::kWhole}, false, kHostArrays);
        check_layout(d, Label{"dst", nullptr, Label::kWhole}, true, kHostArrays);
        if (s.numel != d.numel) throw py::value_error("dst: not src's size");
        active_table().store_sr[static_cast<int>(dt)](static_cast<const float*>(s.data), d.data,
                                                       s.numel, key, first);
      },
      py::arg("src"), py::arg("dst"), py::arg("key"), py::arg("first"),
      "Testing: dst <- src rounded stochastically with operand key `key`, src[0] being "
      "element `first` of its tensor (engine/half_convert.h), on the active ISA path.");
}

}  // namespace fusedoptim
