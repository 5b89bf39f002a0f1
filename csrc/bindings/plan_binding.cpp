// Plan: a step whose params, state buffers and flags repeat, checked once.
//
// The optimizer classes build a Plan from the works of a step and reuse it while
// nothing but the gradients and the per-step scalars changes. run() re-checks
// what can change between calls, cheaply: the gradients (type, dtype, shape,
// layout, overlap with anything written), that each params list still holds the
// same arrays, that every array the plan reads or writes still has the dtype,
// shape, memory, layout and writeability it had (NumPy lets all of them
// change in place), and the ISA. Anything unexpected raises StalePlan, and the
// caller takes the general path, which either succeeds or raises the precise
// error. Nothing is modified before that.
//
// Threads: run() writes this call's grad pointers and scalars into the plan's
// launches and then releases the GIL while the kernels read them, so one plan runs
// one call at a time: a second run() while one is under way (another thread, or a
// re-entrant call) raises RuntimeError and touches nothing. The optimizers hold a
// lock for their whole step(), so they never get that error. The grads are held
// for the whole call, whatever happens to the list they came in.
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
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

constexpr int kLayout = npy_api::NPY_ARRAY_C_CONTIGUOUS_ | npy_api::NPY_ARRAY_ALIGNED_;
constexpr int kStampFlags = kLayout | npy_api::NPY_ARRAY_WRITEABLE_;

// What a plan relies on of each array it reads or writes, as it was when the plan
// was made. The arrays themselves are kept alive by the plan's Parsed.
class ArrayStamps {
 public:
  void add(const py::object& a) {
    const auto* pa = array_proxy(a.ptr());
    stamps_.push_back({a.ptr(), pa->descr, pa->data, pa->nd, pa->flags & kStampFlags,
                       dims_.size()});
    dims_.insert(dims_.end(), pa->dimensions, pa->dimensions + pa->nd);
  }

  // Throws StalePlan unless every array is as it was.
  void check() const {
    for (const Stamp& s : stamps_) {
      const auto* pa = array_proxy(s.obj);
      if (pa->descr != s.descr || pa->data != s.data || pa->nd != s.nd ||
          (pa->flags & kStampFlags) != s.flags)
        throw StalePlan();
      // With the same dtype, data and dimensions, C-contiguity (in the flags) fixes
      // where every element lies: the strides need no check of their own.
      const Py_intptr_t* d = dims_.data() + s.dims_at;
      for (int k = 0; k < s.nd; ++k)
        if (pa->dimensions[k] != d[k]) throw StalePlan();
    }
  }

 private:
  struct Stamp {
    PyObject* obj;
    PyObject* descr;
    void* data;
    int nd;
    int flags;
    std::size_t dims_at;  // its nd dimensions in dims_
  };
  std::vector<Stamp> stamps_;
  std::vector<Py_intptr_t> dims_;
};

// Marks a plan as running for the lifetime of the object; the plan's flag is only
// read and written with the GIL held.
class RunningMark {
 public:
  explicit RunningMark(bool& flag) : flag_(flag) {
    if (flag_)
      throw std::runtime_error(
          "Plan.run: this plan is already running (a step of the same optimizer in another "
          "thread?); run one step at a time per optimizer");
    flag_ = true;
  }
  ~RunningMark() { flag_ = false; }
  RunningMark(const RunningMark&) = delete;
  RunningMark& operator=(const RunningMark&) = delete;

 private:
  bool& flag_;
};

class Plan {
 public:
  explicit Plan(const py::list& works)
      : p_(parse_plan(works, kHostArrays)), table_(&active_table()), watch_(works) {
    bind_cpu_kernels(p_.launches);
    for (const py::object& a : p_.written_arrays) stamps_.add(a);
    for (const py::object& a : p_.other_reads) stamps_.add(a);
    grad_ptrs_.resize(p_.tensors.size());
  }

  int size() const { return static_cast<int>(p_.tensors.size()); }

  void run(const py::list& grads, const py::list& scalars, double grad_scale) {
    const RunningMark mark(running_);
    const npy_api& api = npy_api::get();
    if (table_ != &active_table()) throw StalePlan();
    // This call's own references to the grads, held until the kernels are done.
    const py::tuple held = py::reinterpret_steal<py::tuple>(PySequence_Tuple(grads.ptr()));
    if (!held) throw py::error_already_set();
    if (static_cast<int>(PyTuple_GET_SIZE(held.ptr())) != size()) throw StalePlan();
    // Scalars first: reading a float may run Python code, which could change arrays;
    // from the checks below to the kernels no Python code runs.
    set_scalars(p_, watch_.works(), scalars.ptr());
    set_grad_scale(p_, grad_scale);
    watch_.check();
    stamps_.check();

    // Gradients: the same checks as the general path, on the array structs; their
    // pointers are stored only once every one has passed.
    for (int t = 0; t < size(); ++t) {
      PyObject* g = PyTuple_GET_ITEM(held.ptr(), t);
      if (!api.PyArray_Check_(g)) throw StalePlan();
      const TensorRef& ref = p_.tensors[t];
      const auto* ga = array_proxy(g);
      const auto* pa = array_proxy(ref.param);
      if (ga->descr != pa->descr || ga->nd != pa->nd || (ga->flags & kLayout) != kLayout ||
          (pa->nd > 0 &&  // 0-d: no dimensions (null), and memcmp on null is undefined
           std::memcmp(ga->dimensions, pa->dimensions, sizeof(Py_intptr_t) * pa->nd) != 0))
        throw StalePlan();
      const TensorSlot& slot = p_.launches[ref.launch].tensors[ref.slot];
      const auto lo = reinterpret_cast<std::uintptr_t>(ga->data);
      const std::size_t nbytes = slot.numel * p_.launches[ref.launch].elem_size;
      if (nbytes) {
        auto it = std::upper_bound(p_.written.begin(), p_.written.end(), lo,
                                   [](std::uintptr_t x, const Range& r) { return x < r.hi; });
        if (it != p_.written.end() && it->lo < lo + nbytes) throw StalePlan();
      }
      grad_ptrs_[t] = ga->data;
    }
    for (int t = 0; t < size(); ++t) {
      const TensorRef& ref = p_.tensors[t];
      p_.launches[ref.launch].tensors[ref.slot].ptr[1] = grad_ptrs_[t];
    }
    next_rounding_step(p_);
    const int threads = get_num_threads();
    py::gil_scoped_release release;  // ends (GIL back) before `mark` and `held` go
    multi_tensor_apply(p_.launches, threads);
  }

 private:
  Parsed p_;
  const KernelTable* table_;
  ParamsWatch watch_;
  ArrayStamps stamps_;
  std::vector<void*> grad_ptrs_;
  bool running_ = false;
};

}  // namespace

void bind_plan(py::module_& m) {
  py::register_local_exception<StalePlan>(m, "StalePlan");
  py::class_<Plan>(m, "Plan", "A checked step reused while only gradients and scalars change.")
      .def(py::init<const py::list&>(), py::arg("works"))
      .def("__len__", [](py::handle self) { return constructed<Plan>(self, "Plan").size(); })
      .def("run",
           [](py::handle self, const py::list& grads, const py::list& scalars,
              double grad_scale) { constructed<Plan>(self, "Plan").run(grads, scalars, grad_scale); },
           py::arg("grads"), py::arg("scalars"), py::arg("grad_scale") = 1.0,
           "grads: flat list aligned with the plan's tensors (work order); scalars: one tuple "
           "per work; grad_scale: the factor the grads were multiplied by. Raises StalePlan "
           "(changing nothing) when the plan no longer applies, RuntimeError when the plan "
           "is already running (one call at a time).");
  m.def(
      "same_key",
      [](const py::handle& stored, const py::handle& live) {
        return same_key(stored.ptr(), live.ptr());
      },
      py::arg("stored"), py::arg("live"),
      "Whether a plan's stored key equals the live one: numbers of the same type only "
      "(1.0 == True in Python, not here); snapshots of lists by their own __eq__.");
}

}  // namespace fusedoptim
