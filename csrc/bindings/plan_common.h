// What the host Plan (plan_binding.cpp) and the device Plan (device_binding.cpp)
// share: the StalePlan signal, the watch on each work's params list, and the
// per-step scalars written into the launches.
#pragma once
#include <pybind11/pybind11.h>

#include <exception>
#include <vector>

#include "bindings/work_parse.h"

namespace fusedoptim {
namespace py = pybind11;

// Raised by Plan.run, before anything changes, when the plan no longer applies: the
// caller takes the general path, which either succeeds or raises the precise error.
struct StalePlan : std::exception {
  const char* what() const noexcept override { return "plan no longer matches the arrays"; }
};

// The works of a plan parsed and checked (appliable works only). The grads of this
// first call are not kept: a plan takes new ones on each run.
Parsed parse_plan(const py::list& works, const ArrayKind& kind);

// Each work's params list, and the arrays it held when the plan was made.
class ParamsWatch {
 public:
  explicit ParamsWatch(const py::list& works);
  std::size_t works() const { return lists_.size(); }
  // Throws StalePlan unless every list still holds exactly the same arrays.
  void check() const;

 private:
  std::vector<py::list> lists_;
  std::vector<std::vector<PyObject*>> items_;
};

// Whether a plan's stored key (see python/fusedoptim/optim/_fast.py) still equals the
// live one: tuples and lists elementwise (a stored tuple matches a live list with the
// same items); numbers, strings and None equal only with the same type (1.0 == True in
// Python, but a flag is not an lr); anything else the stored key holds (a snapshot of
// an array, a callable) decides by its own __eq__.
bool same_key(PyObject* stored, PyObject* live);

// Writes one tuple of per-step scalars per work into p's launches; StalePlan if the
// list does not fit the works.
void set_scalars(Parsed& p, std::size_t n_works, PyObject* scalars);

// The loss scale every launch's rules divide the grads by, as its exact reciprocal
// (Hyper::grad_unscale). A power of two only (any other scale: the Python layer divides
// copies of the grads); anything else is a ValueError naming grad_scale, before any change.
void set_grad_scale(Parsed& p, double grad_scale);

// A plan's run is the next step of every param: stochastic rounding draws from the next
// step's key (a plan is made from the works of the step before its first run).
void next_rounding_step(Parsed& p);

}  // namespace fusedoptim
