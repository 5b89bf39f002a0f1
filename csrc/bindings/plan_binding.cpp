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
#include "bindings/instance_check.h"
#include "bindings/plan_common.h"
#include "bindings/work_parse.h"
#include "engine/dispatch.h"
#include "engine/parallel.h"

namespace fusedoptim {
namespace {

using py::detail::array_proxy;
using py::detail::npy_api;

class Plan {
 public:
  explicit Plan(const py::list& works)
      : p_(parse_all(works)), table_(&active_table()), watch_(works) {
    check_appliable(p_);
    bind_cpu_kernels(p_.launches);
  }

  int size() const { return static_cast<int>(p_.tensors.size()); }

  void run(const py::list& grads, const py::list& scalars) {
    const npy_api& api = npy_api::get();
    if (table_ != &active_table()) throw StalePlan();
    if (static_cast<int>(PyList_GET_SIZE(grads.ptr())) != size()) throw StalePlan();
    watch_.check();
    for (const py::object& a : p_.written_arrays)
      if (!(array_proxy(a.ptr())->flags & npy_api::NPY_ARRAY_WRITEABLE_)) throw StalePlan();
    set_scalars(p_, watch_.works(), scalars.ptr());

    // Gradients: the same checks as the general path, on the array structs.
    constexpr int kLayout = npy_api::NPY_ARRAY_C_CONTIGUOUS_ | npy_api::NPY_ARRAY_ALIGNED_;
    for (int t = 0; t < size(); ++t) {
      PyObject* g = PyList_GET_ITEM(grads.ptr(), t);
      if (!api.PyArray_Check_(g)) throw StalePlan();
      const TensorRef& ref = p_.tensors[t];
      const auto* ga = array_proxy(g);
      const auto* pa = array_proxy(ref.param);
      if (ga->descr != pa->descr || ga->nd != pa->nd || (ga->flags & kLayout) != kLayout ||
          (pa->nd > 0 &&  // 0-d: no dimensions (null), and memcmp on null is undefined
           std::memcmp(ga->dimensions, pa->dimensions, sizeof(Py_intptr_t) * pa->nd) != 0))
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
  ParamsWatch watch_;
};

}  // namespace

void bind_plan(py::module_& m) {
  py::register_local_exception<StalePlan>(m, "StalePlan");
  py::class_<Plan>(m, "Plan", "A checked step reused while only gradients and scalars change.")
      .def(py::init<const py::list&>(), py::arg("works"))
      .def("__len__", [](py::handle self) { return constructed<Plan>(self, "Plan").size(); })
      .def("run",
           [](py::handle self, const py::list& grads, const py::list& scalars) {
             constructed<Plan>(self, "Plan").run(grads, scalars);
           },
           py::arg("grads"), py::arg("scalars"),
           "grads: flat list aligned with the plan's tensors (work order); scalars: one tuple "
           "per work. Raises StalePlan (changing nothing) when the plan no longer applies.");
}

}  // namespace fusedoptim
