// run(works) / validate(works): the one native entry of every optimizer step.
//
// A work is a tuple (family, flags, scalars, operands, names):
//   family   int, an index of enum Family (optimizers/kernel_spec.h)
//   flags    int, the family's flag bits
//   scalars  sequence of float, the family's per-step scalars in table order
//   operands sequence of lists of arrays (params, grads, state buffers...), in
//            table order; an operand the flags do not use may be None
//   names    None or a list of str, how tensor i is called in messages
// All works of a call are checked completely (types, dtypes, shapes, layout,
// memory overlap between everything written and everything read) before the
// first element of any array changes. Then one multi-tensor apply runs them all
// with the GIL released.
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "bindings/bindings.h"
#include "engine/dispatch.h"
#include "engine/multi_tensor.h"
#include "engine/parallel.h"

namespace fusedoptim {
namespace {

struct Range {
  std::uintptr_t lo, hi;
  std::string what;  // filled lazily is not worth it: only built for non-empty arrays
};

struct Parsed {
  std::vector<Launch> launches;
  std::vector<Range> written, read;
};

std::string label(const char* operand, const py::object& names, std::size_t i) {
  std::string idx = names.is_none() ? std::to_string(i)
                                    : py::str(py::reinterpret_borrow<py::list>(names)[i]).cast<std::string>();
  return std::string(operand) + "[" + idx + "]";
}

py::sequence as_list(py::handle h, const std::string& what) {
  if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
    throw py::type_error(what + ": expected a list of arrays, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  return py::reinterpret_borrow<py::sequence>(h);
}

void parse_work(py::handle work_h, std::size_t work_index, Parsed& out) {
  const std::string wname = "work " + std::to_string(work_index);
  if (!py::isinstance<py::tuple>(work_h) || py::len(work_h) != 5)
    throw py::type_error(wname + ": expected a tuple (family, flags, scalars, operands, names)");
  py::tuple work = py::reinterpret_borrow<py::tuple>(work_h);
  const int family = work[0].cast<int>();
  if (family < 0 || family >= kNumFamilies) throw py::value_error(wname + ": unknown family id");
  const FamilySpec& spec = family_spec(family);

  Hyper hyper{};
  hyper.flags = work[1].cast<std::uint32_t>();
  py::sequence scalars = py::reinterpret_borrow<py::sequence>(work[2]);
  if (static_cast<int>(py::len(scalars)) != spec.n_scalars)
    throw py::value_error(wname + ": " + spec.name + " takes " + std::to_string(spec.n_scalars) +
                          " scalars");
  for (int s = 0; s < spec.n_scalars; ++s) hyper.s[s] = scalars[s].cast<double>();

  py::sequence operands = py::reinterpret_borrow<py::sequence>(work[3]);
  if (static_cast<int>(py::len(operands)) != spec.n_operands)
    throw py::value_error(wname + ": " + spec.name + " takes " + std::to_string(spec.n_operands) +
                          " operand lists");
  py::object names = work[4];

  // Which operand lists this call uses, and their lengths.
  bool used[kMaxOperands] = {};
  py::sequence lists[kMaxOperands];
  const py::sequence params = as_list(operands[0], spec.operands[0].name);
  const std::size_t n = py::len(params);
  if (!names.is_none() && py::len(names) != n)
    throw py::value_error(wname + ": names has " + std::to_string(py::len(names)) +
                          " entries for " + std::to_string(n) + " params");
  for (int k = 0; k < spec.n_operands; ++k) {
    const OperandSpec& op = spec.operands[k];
    used[k] = op.needs == 0 || (hyper.flags & op.needs);
    if (!used[k]) continue;
    lists[k] = as_list(operands[k], op.name);
    if (py::len(lists[k]) != n)
      throw py::value_error(std::string(op.name) + ": has " + std::to_string(py::len(lists[k])) +
                            " arrays but params has " + std::to_string(n));
  }

  Launch f32, f64;
  for (Launch* l : {&f32, &f64}) {
    l->hyper = hyper;
    l->n_operands = spec.n_operands;
  }
  const KernelTable& table = active_table();
  f32.fn = table.f32[family];
  f32.elem_size = 4;
  f64.fn = table.f64[family];
  f64.elem_size = 8;

  for (std::size_t i = 0; i < n; ++i) {
    const std::string pname = label(spec.operands[0].name, names, i);
    const py::array param = as_ndarray(params[i], pname);
    const DType dt = float_dtype(param, pname);
    check_layout(param, pname, true);
    TensorSlot slot{};
    slot.numel = static_cast<std::size_t>(param.size());
    for (int k = 0; k < spec.n_operands; ++k) {
      if (!used[k]) continue;
      const OperandSpec& op = spec.operands[k];
      py::array a = param;
      std::string what = pname;
      if (k > 0) {
        what = label(op.name, names, i);
        a = as_ndarray(lists[k][i], what);
        check_matches(a, what, param, dt);
        check_layout(a, what, op.written);
      }
      slot.ptr[k] = const_cast<void*>(a.data());
      if (a.nbytes() > 0) {
        const auto lo = reinterpret_cast<std::uintptr_t>(a.data());
        (op.written ? out.written : out.read).push_back({lo, lo + a.nbytes(), what});
      }
    }
    (dt == DType::F32 ? f32 : f64).tensors.push_back(slot);
  }
  for (Launch* l : {&f32, &f64})
    if (!l->tensors.empty()) out.launches.push_back(std::move(*l));
}

// Everything written must be disjoint from everything else written or read.
void check_overlaps(Parsed& p) {
  auto by_lo = [](const Range& a, const Range& b) { return a.lo < b.lo; };
  std::sort(p.written.begin(), p.written.end(), by_lo);
  for (std::size_t i = 1; i < p.written.size(); ++i)
    if (p.written[i].lo < p.written[i - 1].hi)
      throw py::value_error(p.written[i].what + " shares memory with " + p.written[i - 1].what +
                            ": every array updated in place must be passed once, on its own");
  // Written ranges are now disjoint and sorted, so their ends are sorted too.
  for (const Range& r : p.read) {
    auto it = std::upper_bound(p.written.begin(), p.written.end(), r.lo,
                               [](std::uintptr_t lo, const Range& w) { return lo < w.hi; });
    if (it != p.written.end() && it->lo < r.hi)
      throw py::value_error(r.what + " shares memory with " + it->what +
                            ", which is updated in place; pass a separate gradient array");
  }
}

Parsed parse_all(const py::list& works) {
  Parsed p;
  for (std::size_t w = 0; w < works.size(); ++w) parse_work(works[w], w, p);
  check_overlaps(p);
  return p;
}

}  // namespace

void bind_step(py::module_& m) {
  m.def(
      "run",
      [](const py::list& works) {
        Parsed p = parse_all(works);
        const int threads = get_num_threads();
        py::gil_scoped_release release;
        multi_tensor_apply(p.launches, threads);
      },
      py::arg("works"),
      "Check every work completely, then apply all of them in one multi-tensor pass.");
  m.def(
      "validate", [](const py::list& works) { parse_all(works); }, py::arg("works"),
      "Run every check of run() and change nothing.");
  m.def(
      "check_params",
      [](const py::sequence& arrays, const py::object& names) {
        Parsed p;
        for (std::size_t i = 0; i < py::len(arrays); ++i) {
          const std::string what = label("params", names, i);
          const py::array a = as_ndarray(arrays[i], what);
          float_dtype(a, what);
          check_layout(a, what, true);
          const auto lo = reinterpret_cast<std::uintptr_t>(a.data());
          if (a.nbytes() > 0) p.written.push_back({lo, lo + a.nbytes(), what});
        }
        check_overlaps(p);
      },
      py::arg("arrays"), py::arg("names") = py::none(),
      "Check arrays an optimizer will update in place: float32/float64, C-contiguous, "
      "writeable, each on its own memory.");
}

}  // namespace fusedoptim
