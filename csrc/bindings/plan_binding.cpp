// Plan: a step whose params, state buffers and flags repeat, checked once.
//
// The optimizer classes build a Plan from the works of a step and reuse it while
// nothing but the gradients and the per-step scalars changes. run() re-checks
// what can change between calls, cheaply: the gradients (type, dtype, shape,
// layout, overlap with anything written), that each params list still holds the
// same arrays, that everything written is still writeable, and the ISA. Anything
// unexpected raises StalePlan, and the caller takes the general path, which
// either succeeds or raises the precise error. Nothing is modified before that.
#include <pybind11/pybind11.h>

#include <cstring>
#include <vector>

#include "bindings/bindings.h"
#include "bindings/work_parse.h"
#include "engine/dispatch.h"
#include "engine/parallel.h"

namespace fusedoptim {
namespace {

struct StalePlan : std::exception {
  const char* what() const noexcept override { return "plan no longer matches the arrays"; }
};

using py::detail::array_proxy;
using py::detail::npy_api;

class Plan {
 public:
  explicit Plan(const py::list& works) : p_(parse_all(works)), table_(&active_table()) {
    check_appliable(p_);
    bind_cpu_kernels(p_.launches);
    for (std::size_t w = 0; w < works.size(); ++w) {
      py::tuple work = works[w].cast<py::tuple>();
      py::list params = py::reinterpret_borrow<py::sequence>(work[3])[0].cast<py::list>();
      lists_.push_back(params);
      std::vector<PyObject*> items;
      for (py::handle h : params) items.push_back(h.ptr());
      items_.push_back(std::move(items));
    }
  }

  int size() const { return static_cast<int>(p_.tensors.size()); }

  void run(const py::list& grads, const py::list& scalars) {
    const npy_api& api = npy_api::get();
    if (table_ != &active_table()) throw StalePlan();
    if (static_cast<int>(PyList_GET_SIZE(grads.ptr())) != size()) throw StalePlan();
    if (static_cast<std::size_t>(PyList_GET_SIZE(scalars.ptr())) != lists_.size()) throw StalePlan();
    for (std::size_t w = 0; w < lists_.size(); ++w) {
      PyObject* lst = lists_[w].ptr();
      const std::vector<PyObject*>& items = items_[w];
      if (static_cast<std::size_t>(PyList_GET_SIZE(lst)) != items.size()) throw StalePlan();
      for (std::size_t i = 0; i < items.size(); ++i)
        if (PyList_GET_ITEM(lst, i) != items[i]) throw StalePlan();
    }
    for (const py::object& a : p_.written_arrays)
      if (!(array_proxy(a.ptr())->flags & npy_api::NPY_ARRAY_WRITEABLE_)) throw StalePlan();

    // Per-step scalars of each work.
    for (std::size_t w = 0; w < lists_.size(); ++w) {
      PyObject* s = PyList_GET_ITEM(scalars.ptr(), w);
      if (!PyTuple_Check(s)) throw StalePlan();
      for (int d = 0; d < 2; ++d) {
        const int l = p_.work_launch[d][w];
        if (l < 0) continue;
        Hyper& h = p_.launches[l].hyper;
        const Py_ssize_t n = PyTuple_GET_SIZE(s);
        if (n > kMaxScalars) throw StalePlan();
        for (Py_ssize_t k = 0; k < n; ++k) {
          const double v = PyFloat_AsDouble(PyTuple_GET_ITEM(s, k));
          if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
          h.s[k] = v;
        }
      }
    }

    // Gradients: the same checks as the general path, on the array structs.
    constexpr int kLayout = npy_api::NPY_ARRAY_C_CONTIGUOUS_ | npy_api::NPY_ARRAY_ALIGNED_;
    for (int t = 0; t < size(); ++t) {
      PyObject* g = PyList_GET_ITEM(grads.ptr(), t);
      if (!api.PyArray_Check_(g)) throw StalePlan();
      const TensorRef& ref = p_.tensors[t];
      const auto* ga = array_proxy(g);
      const auto* pa = array_proxy(ref.param);
      if (ga->descr != pa->descr || ga->nd != pa->nd || (ga->flags & kLayout) != kLayout ||
          std::memcmp(ga->dimensions, pa->dimensions, sizeof(Py_intptr_t) * pa->nd) != 0)
        throw StalePlan();
      TensorSlot& slot = p_.launches[ref.launch].tensors[ref.slot];
      const auto lo = reinterpret_cast<std::uintptr_t>(ga->data);
      const std::size_t nbytes = slot.numel * p_.launches[ref.launch].elem_size;
      if (nbytes) {
        auto it = std::upper_bound(p_.written.begin(), p_.written.end(), lo,
                                   [](std::uintptr_t x, const Range& r) { return x < r.hi; });
        if (it != p_.written.end() && it->lo < lo + nbytes) throw StalePlan();
      }
      slot.ptr[1] = ga->data;
    }
    const int threads = get_num_threads();
    py::gil_scoped_release release;
    multi_tensor_apply(p_.launches, threads);
  }

 private:
  Parsed p_;
  const KernelTable* table_;
  std::vector<py::list> lists_;                // each work's params list
  std::vector<std::vector<PyObject*>> items_;  // its items when the plan was made
};

}  // namespace

void bind_plan(py::module_& m) {
  py::register_exception<StalePlan>(m, "StalePlan");
  py::class_<Plan>(m, "Plan", "A checked step reused while only gradients and scalars change.")
      .def(py::init<const py::list&>(), py::arg("works"))
      .def("__len__", &Plan::size)
      .def("run", &Plan::run, py::arg("grads"), py::arg("scalars"),
           "grads: flat list aligned with the plan's tensors (work order); scalars: one tuple "
           "per work. Raises StalePlan (changing nothing) when the plan no longer applies.");
}

}  // namespace fusedoptim
