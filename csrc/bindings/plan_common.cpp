#include "bindings/plan_common.h"

#include <cmath>
#include <limits>
#include <string>

namespace fusedoptim {

Parsed parse_plan(const py::list& works, const ArrayKind& kind) {
  Parsed p = parse_all(works, kind);
  check_appliable(p);
  p.grads.clear();
  return p;
}

ParamsWatch::ParamsWatch(const py::list& works) {
  for (std::size_t w = 0; w < works.size(); ++w) {
    py::tuple work = works[w].cast<py::tuple>();
    py::list params = py::reinterpret_borrow<py::sequence>(work[3])[0].cast<py::list>();
    lists_.push_back(params);
    std::vector<PyObject*> items;
    for (py::handle h : params) items.push_back(h.ptr());
    items_.push_back(std::move(items));
  }
}

void ParamsWatch::check() const {
  for (std::size_t w = 0; w < lists_.size(); ++w) {
    PyObject* lst = lists_[w].ptr();
    const std::vector<PyObject*>& items = items_[w];
    if (static_cast<std::size_t>(PyList_GET_SIZE(lst)) != items.size()) throw StalePlan();
    for (std::size_t i = 0; i < items.size(); ++i)
      if (PyList_GET_ITEM(lst, i) != items[i]) throw StalePlan();
  }
}

namespace {

// Deeper than any hyperparameter: past it a key is reported changed (the general
// path then decides), so a self-containing list cannot recurse without end.
constexpr int kMaxKeyDepth = 32;

bool same_key_at(PyObject* stored, PyObject* live, int depth) {
  if (stored == live) return true;
  PyTypeObject* t = Py_TYPE(stored);
  if (t == &PyTuple_Type || t == &PyList_Type) {
    // A list the user edits in place is stored as a tuple of its values: a tuple or a
    // list with the same items matches (the optimizers read either alike).
    if (!PyTuple_Check(live) && !PyList_Check(live)) return false;
    if (depth >= kMaxKeyDepth) return false;
    // Tuples of both, holding their items: an item's __eq__ may change a list.
    py::tuple a = py::reinterpret_steal<py::tuple>(PySequence_Tuple(stored));
    py::tuple b = py::reinterpret_steal<py::tuple>(PySequence_Tuple(live));
    if (!a || !b) throw py::error_already_set();
    const Py_ssize_t n = PyTuple_GET_SIZE(a.ptr());
    if (PyTuple_GET_SIZE(b.ptr()) != n) return false;
    for (Py_ssize_t i = 0; i < n; ++i)
      if (!same_key_at(PyTuple_GET_ITEM(a.ptr(), i), PyTuple_GET_ITEM(b.ptr(), i), depth + 1))
        return false;
    return true;
  }
  if (t == &PyFloat_Type || t == &PyLong_Type || t == &PyBool_Type || t == &PyUnicode_Type ||
      stored == Py_None) {
    if (Py_TYPE(live) != t) return false;
  }
  const int eq = PyObject_RichCompareBool(stored, live, Py_EQ);
  if (eq < 0) throw py::error_already_set();
  return eq == 1;
}

}  // namespace

bool same_key(PyObject* stored, PyObject* live) { return same_key_at(stored, live, 0); }

void set_grad_scale(Parsed& p, double grad_scale) {
  // A power of two in [2^-126, 2^126]: it and its reciprocal are normal float32 numbers,
  // so g * (1 / scale) rounds exactly as g / scale in either type, zeros and infs included.
  int exponent = 0;
  if (!(grad_scale > 0.0 && grad_scale <= std::numeric_limits<double>::max()) ||
      std::frexp(grad_scale, &exponent) != 0.5 || exponent < -125 || exponent > 127)
    throw py::value_error("grad_scale: the kernels take a power of two in [2^-126, 2^126], got " +
                          std::string(py::str(py::float_(grad_scale))));
  const double unscale = std::ldexp(1.0, 1 - exponent);  // 1 / grad_scale, exactly
  for (Launch& l : p.launches) l.hyper.grad_unscale = unscale;
}

void next_rounding_step(Parsed& p) {
  for (Launch& l : p.launches)
    if (l.stochastic)
      for (TensorSlot& s : l.tensors) ++s.round_step;
}

void set_scalars(Parsed& p, std::size_t n_works, PyObject* scalars) {
  if (!PyList_Check(scalars) || static_cast<std::size_t>(PyList_GET_SIZE(scalars)) != n_works)
    throw StalePlan();
  for (std::size_t w = 0; w < n_works; ++w) {
    PyObject* s = PyList_GET_ITEM(scalars, w);
    if (!PyTuple_Check(s)) throw StalePlan();
    const Py_ssize_t n = PyTuple_GET_SIZE(s);
    if (n > kMaxScalars) throw StalePlan();
    for (const int l : p.work_launches[w]) {
      if (n != family_spec(p.launches[l].family).n_scalars) throw StalePlan();
      Hyper& h = p.launches[l].hyper;
      for (Py_ssize_t k = 0; k < n; ++k) {
        const double v = PyFloat_AsDouble(PyTuple_GET_ITEM(s, k));
        if (v == -1.0 && PyErr_Occurred()) throw py::error_already_set();
        h.s[k] = v;
      }
    }
  }
}

}  // namespace fusedoptim
