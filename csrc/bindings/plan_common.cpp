#include "bindings/plan_common.h"

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

bool same_key(PyObject* stored, PyObject* live) {
  if (stored == live) return true;
  PyTypeObject* t = Py_TYPE(stored);
  if (t == &PyTuple_Type || t == &PyList_Type) {
    // A list the user edits in place is stored as a tuple of its values: a tuple or a
    // list with the same items matches (the optimizers read either alike).
    if (!PyTuple_Check(live) && !PyList_Check(live)) return false;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(stored);
    if (PySequence_Fast_GET_SIZE(live) != n) return false;
    PyObject** a = PySequence_Fast_ITEMS(stored);
    PyObject** b = PySequence_Fast_ITEMS(live);
    for (Py_ssize_t i = 0; i < n; ++i)
      if (!same_key(a[i], b[i])) return false;
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

void set_scalars(Parsed& p, std::size_t n_works, PyObject* scalars) {
  if (!PyList_Check(scalars) || static_cast<std::size_t>(PyList_GET_SIZE(scalars)) != n_works)
    throw StalePlan();
  for (std::size_t w = 0; w < n_works; ++w) {
    PyObject* s = PyList_GET_ITEM(scalars, w);
    if (!PyTuple_Check(s)) throw StalePlan();
    const Py_ssize_t n = PyTuple_GET_SIZE(s);
    if (n > kMaxScalars) throw StalePlan();
    for (int d = 0; d < 2; ++d) {
      const int l = p.work_launch[d][w];
      if (l < 0) continue;
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
