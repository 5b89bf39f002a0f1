// fusedoptim._cuda (and its host emulation, fusedoptim._cuda_emulator): the step
// entry points of bindings/step_binding.cpp and plan_binding.cpp for CUDA device
// arrays. Works are the same tuples; arrays are read through __cuda_array_interface__
// and checked by the same code as host arrays; kernels are enqueued on the given
// stream and nothing waits for the GPU.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bindings/bindings.h"
#include "bindings/device_arrays.h"
#include "bindings/instance_check.h"
#include "bindings/plan_common.h"
#include "bindings/work_parse.h"
#include "cuda/device_apply.h"
#include "cuda/launch_meta.h"

#ifndef FUSEDOPTIM_DEVICE_MODULE
#error "define FUSEDOPTIM_DEVICE_MODULE (_cuda or _cuda_emulator)"
#endif

#define FO_STR2(x) #x
#define FO_STR(x) FO_STR2(x)

namespace fusedoptim {
namespace {

// The host emulation runs the kernels on host memory at whatever address an array's
// interface claims: it checks that memory against the process's mappings before each
// launch, so a bogus address raises instead of faulting. (The CUDA runtime checks its
// own pointers, and a bad one fails on the GPU, not in this process.)
constexpr bool kEmulated = std::string_view(FO_STR(FUSEDOPTIM_DEVICE_MODULE)) == "_cuda_emulator";

std::string hex(std::uintptr_t x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(x));
  return buf;
}

// Every range of p (what each work writes and reads) is host memory with that access.
void check_emulated_memory(const Parsed& p) {
  if (kEmulated) check_host_memory(p);
}

// The memory each launch touches, from its tensors' current addresses.
std::vector<HostRange> launch_ranges(const std::vector<Launch>& launches) {
  std::vector<HostRange> out;
  for (const Launch& l : launches) {
    const FamilySpec& spec = family_spec(l.family);
    for (const TensorSlot& t : l.tensors)
      for (int k = 0; k < spec.n_operands; ++k) {
        const OperandSpec& op = spec.operands[k];
        if (op.needs && !(l.hyper.flags & op.needs)) continue;
        const auto lo = reinterpret_cast<std::uintptr_t>(t.ptr[k]);
        const std::size_t bytes = l.mixed ? elem_bytes(l.elem[k]) : l.elem_size;
        out.push_back({lo, lo + t.numel * bytes, op.written});
      }
    if (l.master)
      for (const TensorSlot& t : l.tensors) {
        const auto lo = reinterpret_cast<std::uintptr_t>(t.ptr[kMasterSlot]);
        out.push_back({lo, lo + t.numel * sizeof(float), true});
      }
  }
  return out;
}

Parsed parse_device(const py::list& works, bool sums = false) {
  Parsed p = parse_all(works, kDeviceArrays);
  check_appliable(p, sums);
  check_emulated_memory(p);
  return p;
}

void apply(const Parsed& p, std::uintptr_t stream) {
  if (p.launches.empty()) return;
  device_apply(p.launches, p.device < 0 ? 0 : p.device, stream);
}

// A checked step reused while only gradients and scalars change (see plan_binding.cpp).
// A gradient that is the same object as on the last run is not read again: a device
// array's memory does not move while the object lives (CuPy, PyTorch, Numba), and the
// plan holds a reference to it.
//
// The emulator re-reads every array on every run (its memory is host memory that an
// object could have moved or freed since) and checks the memory of each launch.
class DevicePlan {
 public:
  explicit DevicePlan(const py::list& works) : p_(parse_device(works)), watch_(works) {
    p_.grads.clear();  // the first step's grads: each run() brings its own
    const std::size_t n = p_.tensors.size();
    last_grads_.resize(n);
    params_.reserve(n);
    for (std::size_t t = 0; t < n; ++t) {
      const TensorRef& ref = p_.tensors[t];
      params_.push_back(kDeviceArrays.view(ref.param, Label{"params", nullptr, t}));
    }
    if (kEmulated)
      for (const auto* list : {&p_.written_arrays, &p_.other_reads})
        for (const py::object& a : *list) {
          const ArrayView v = kDeviceArrays.view(a, Label{"arrays", nullptr, Label::kWhole});
          held_.push_back({a, v.data, v.nbytes()});
        }
  }

  int size() const { return static_cast<int>(p_.tensors.size()); }

  void run(const py::list& grads, const py::list& scalars, std::uintptr_t stream) {
    if (static_cast<int>(PyList_GET_SIZE(grads.ptr())) != size()) throw StalePlan();
    watch_.check();
    set_scalars(p_, watch_.works(), scalars.ptr());
    for (const Held& h : held_) {
      try {
        const ArrayView v = kDeviceArrays.view(h.obj, Label{"arrays", nullptr, Label::kWhole});
        if (v.data != h.data || v.nbytes() != h.nbytes) throw StalePlan();
      } catch (const py::error_already_set&) {
        throw StalePlan();
      } catch (const py::builtin_exception&) {
        throw StalePlan();
      }
    }
    for (int t = 0; t < size(); ++t) {
      PyObject* g = PyList_GET_ITEM(grads.ptr(), t);
      if (!kEmulated && g == last_grads_[t].ptr()) continue;
      const TensorRef& ref = p_.tensors[t];
      TensorSlot& slot = p_.launches[ref.launch].tensors[ref.slot];
      const Label what{"grads", nullptr, static_cast<std::size_t>(t)};
      try {
        const ArrayView v = kDeviceArrays.view(g, what);
        const ArrayView& param = params_[t];
        check_matches(v, what, param, step_dtype(param, what, true));
        check_layout(v, what, false, kDeviceArrays);
        const auto lo = reinterpret_cast<std::uintptr_t>(v.data);
        if (v.nbytes()) check_read_range(p_, lo, lo + v.nbytes(), what);
        slot.ptr[1] = v.data;
      } catch (const py::error_already_set&) {
        throw StalePlan();
      } catch (const py::builtin_exception&) {
        throw StalePlan();
      }
      last_grads_[t] = py::reinterpret_borrow<py::object>(g);
    }
    if (kEmulated && first_unmapped(launch_ranges(p_.launches)) >= 0) throw StalePlan();
    next_rounding_step(p_);
    apply(p_, stream);
  }

 private:
  struct Held {
    py::object obj;
    void* data;
    std::size_t nbytes;
  };
  Parsed p_;
  ParamsWatch watch_;
  std::vector<ArrayView> params_;
  std::vector<py::object> last_grads_;
  std::vector<Held> held_;  // the emulator's params, state and other read arrays
};

// A reduction call's works, parsed: one read-only list (or two for a dot product).
Parsed parse_reduction(int kind, const py::list& arrays, double scalar, const py::object& names,
                       const py::object& others) {
  Parsed p = parse_all(reduction_works(kind, arrays, scalar, names, others), kDeviceArrays);
  check_emulated_memory(p);
  return p;
}

// Partials of a reduction: one per chunk of every non-empty tensor (cuda_meta::pack).
std::size_t partial_count(const Parsed& p) {
  std::size_t n = 0;
  for (const Launch& l : p.launches)
    for (const TensorSlot& t : l.tensors)
      n += (t.numel + cuda_meta::kChunk - 1) / cuda_meta::kChunk;
  return n;
}

// The reduction as a float: the partials go to a float64 device array that
// make_out(n) returns, then come back to the host and are combined in order as the
// host reduction combines its own (waits for the stream, as any value read must).
// The float64 device array make_out(n) returns for n partials, checked: on the arrays'
// device, memory of its own (the partials are written while the arrays are read and
// written). Returns the array (the caller holds it while the kernels write it) and its
// memory.
std::pair<py::object, double*> partials_out(const py::object& make_out, std::size_t n,
                                            const Parsed& p) {
  py::object out = make_out(n);
  const Label what{"out", nullptr, Label::kWhole};
  const ArrayView o = kDeviceArrays.view(out, what);
  if (o.kind != 'f' || o.itemsize != 8) throw py::type_error("out: expected a float64 array");
  check_layout(o, what, true, kDeviceArrays);
  if (o.numel < n)
    throw py::value_error("out: has " + std::to_string(o.numel) + " entries for " +
                          std::to_string(n) + " partials");
  if (!same_device(o.device, p.device))
    throw py::value_error("out: on another device than the arrays");
  // The partials are written while the arrays are read: out must be memory of its own.
  const auto lo = reinterpret_cast<std::uintptr_t>(o.data);
  const std::uintptr_t hi = lo + n * sizeof(double);
  for (const std::vector<Range>* ranges : {&p.read, &p.written})
    for (const Range& r : *ranges)
      if (r.lo < hi && lo < r.hi)
        throw py::value_error("out: shares memory with " + r.what.str() +
                              ", which the call reads or writes");
  if (kEmulated && first_unmapped({{lo, hi, true}}) >= 0)
    throw py::value_error("out: its memory [" + hex(lo) + ", " + hex(hi) +
                          ") is not host memory this process may write (the emulator's device "
                          "arrays are host memory)");
  return {out, static_cast<double*>(o.data)};
}

double reduce_device(int kind, const py::list& arrays, double scalar, const py::object& names,
                     const py::object& others, const py::object& make_out, std::uintptr_t stream) {
  const Parsed p = parse_reduction(kind, arrays, scalar, names, others);
  const std::size_t n = partial_count(p);
  if (n == 0) return 0.0;
  const auto [out, dev_out] = partials_out(make_out, n, p);
  device_reduce(p.launches, kind, scalar, dev_out, p.device, stream);
  std::vector<double> partial(n);
  device_read(dev_out, partial.data(), n, p.device, stream);
  return combine_partials(kind, partial.data(), n);
}

// apply_sums on the device: the step's update, then each tensor's sums (kMaxSums) as a
// float64 host array of shape (tensors, kMaxSums) in work order; the per-chunk partials
// go to make_out(n) and are added per tensor in chunk order on the host.
py::array_t<double> apply_sums_device(const py::list& works, const py::object& make_out,
                                      std::uintptr_t stream) {
  const Parsed p = parse_device(works, true);
  const std::size_t n = partial_count(p);
  py::array_t<double> result({static_cast<py::ssize_t>(p.tensors.size()),
                              static_cast<py::ssize_t>(kMaxSums)});
  double* res = result.mutable_data();
  std::fill(res, res + p.tensors.size() * kMaxSums, 0.0);
  if (n == 0) return result;
  const auto [out, dev_out] = partials_out(make_out, n * kMaxSums, p);
  device_apply_sums(p.launches, dev_out, p.device < 0 ? 0 : p.device, stream);
  std::vector<double> partial(n * kMaxSums);
  device_read(dev_out, partial.data(), partial.size(), p.device, stream);
  // Blocks come in launch, tensor and chunk order (empty tensors have none).
  std::vector<std::vector<double>> per_launch(p.launches.size());
  std::size_t block = 0;
  for (std::size_t li = 0; li < p.launches.size(); ++li) {
    const Launch& l = p.launches[li];
    per_launch[li].assign(l.tensors.size() * kMaxSums, 0.0);
    for (std::size_t t = 0; t < l.tensors.size(); ++t) {
      const std::size_t chunks = (l.tensors[t].numel + cuda_meta::kChunk - 1) / cuda_meta::kChunk;
      for (std::size_t c = 0; c < chunks; ++c, ++block)
        for (int j = 0; j < kMaxSums; ++j)
          per_launch[li][t * kMaxSums + j] += partial[block * kMaxSums + j];
    }
  }
  for (std::size_t t = 0; t < p.tensors.size(); ++t)
    for (int j = 0; j < kMaxSums; ++j)
      res[t * kMaxSums + j] = per_launch[p.tensors[t].launch][p.tensors[t].slot * kMaxSums + j];
  return result;
}

}  // namespace
}  // namespace fusedoptim

PYBIND11_MODULE(FUSEDOPTIM_DEVICE_MODULE, m) {
  using namespace fusedoptim;
  m.doc() = "fusedoptim's CUDA kernels over device arrays (__cuda_array_interface__).";
  py::register_local_exception<StalePlan>(m, "StalePlan");
  m.def(
      "run",
      [](const py::list& works, std::uintptr_t stream) { apply(parse_device(works), stream); },
      py::arg("works"), py::arg("stream") = 0,
      "Check every work completely, then enqueue all of them on `stream` (a cudaStream_t "
      "as an int; 0: the default stream). Does not wait for the GPU.");
  m.def(
      "validate",
      [](const py::list& works) { check_emulated_memory(parse_all(works, kDeviceArrays)); },
      py::arg("works"),
      "Run every check of run() and change nothing.");
  m.def(
      "check_params",
      [](const py::sequence& arrays, const py::object& names) {
        check_names(names, py::len(arrays));
        check_params(arrays, names, kDeviceArrays);
        if (!kEmulated) return;
        std::vector<HostRange> ranges;
        for (std::size_t i = 0; i < py::len(arrays); ++i) {
          const ArrayView v = kDeviceArrays.view(arrays[i], Label{"params", &names, i});
          const auto lo = reinterpret_cast<std::uintptr_t>(v.data);
          ranges.push_back({lo, lo + v.nbytes(), true});
        }
        const long bad = first_unmapped(ranges);
        if (bad >= 0)
          throw py::value_error(Label{"params", &names, static_cast<std::size_t>(bad)}.str() +
                                ": its memory is not host memory this process may write (the "
                                "emulator's device arrays are host memory)");
      },
      py::arg("arrays"), py::arg("names") = py::none(),
      "Check device arrays an optimizer will update in place.");
  m.def("apply_sums", &apply_sums_device, py::arg("works"), py::arg("make_out"),
        py::arg("stream") = 0,
        "Check every work completely, enqueue all of them on `stream` and return each "
        "tensor's sums of squares (float64, shape (tensors, 2), in work order) for families "
        "whose update also sums. The per-chunk partials go to make_out(n), a float64 device "
        "array; waits for `stream`.");
  m.def("reduce", &reduce_device, py::arg("kind"), py::arg("arrays"), py::arg("scalar"),
        py::arg("names"), py::arg("others"), py::arg("make_out"), py::arg("stream") = 0,
        "A reduction (enum Reduction of fusedoptim._core: sum of squares times scalar^2, "
        "max |x|, sum |x|^scalar, finiteness probe, dot with others) as a float. Its per-chunk "
        "float64 partials go to make_out(n), a device array, and are combined in order on "
        "the host; waits for `stream`.");
  bind_device_blockwise8(m);
  bind_device_info(m);
  py::class_<DevicePlan>(m, "Plan", "A checked device step reused while only gradients and "
                                    "scalars change.")
      .def(py::init<const py::list&>(), py::arg("works"))
      .def("__len__",
           [](py::handle self) { return constructed<DevicePlan>(self, "Plan").size(); })
      .def("run",
           [](py::handle self, const py::list& grads, const py::list& scalars,
              std::uintptr_t stream) {
             constructed<DevicePlan>(self, "Plan").run(grads, scalars, stream);
           },
           py::arg("grads"), py::arg("scalars"), py::arg("stream") = 0,
           "As the host Plan.run, enqueued on `stream`.");
}
