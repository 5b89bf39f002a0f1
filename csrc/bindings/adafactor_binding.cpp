// adafactor_check(...) / adafactor_step(...): Adafactor's arrays checked completely (the
// state arrays have their own shapes: row_var shape[:-1] + (1,), col_var shape[:-2] +
// (1, n), variance the param's), then its passes (optimizers/adafactor_run.h).
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "bindings/bindings.h"
#include "bindings/work_parse.h"
#include "engine/parallel.h"
#include "optimizers/adafactor_run.h"

namespace fusedoptim {
namespace {

py::sequence as_seq(const py::object& h, const char* what) {
  if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
    throw py::type_error(std::string(what) + ": expected a list, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  return py::reinterpret_borrow<py::sequence>(h);
}

// The state array `h` of param i: None where the param keeps no such buffer, else an
// array of the param's dtype and of `shape`, C-contiguous and writeable.
void* state_array(py::handle h, const Label& what, const ArrayView& param, DType dt,
                  const std::vector<py::ssize_t>* shape, Parsed& ranges,
                  std::vector<ArrayView>& keep) {
  if (!shape) {
    if (!h.is_none())
      throw py::value_error(what.str() + ": expected None, since its param of shape " +
                            shape_str(param) + (param.ndim >= 2 ? " keeps row_var and col_var"
                                                                : " keeps variance"));
    return nullptr;
  }
  if (h.is_none())
    throw py::value_error(what.str() + ": missing; its param of shape " + shape_str(param) +
                          " needs it");
  ArrayView a = kHostArrays.view(h, what);
  if (float_dtype(a, what) != dt)
    throw py::type_error(what.str() + ": dtype " + dtype_str(a) +
                         " does not match its param's dtype " + dtype_str(param));
  bool same = a.ndim == static_cast<int>(shape->size());
  for (int d = 0; same && d < a.ndim; ++d) same = a.shape[d] == (*shape)[d];
  if (!same) {
    std::string want = "(";
    for (std::size_t d = 0; d < shape->size(); ++d)
      want += std::to_string((*shape)[d]) + (shape->size() == 1 ? ",)" : d + 1 < shape->size() ? ", " : ")");
    if (shape->empty()) want = "()";
    throw py::value_error(what.str() + ": shape " + shape_str(a) + " does not fit its param of shape " +
                          shape_str(param) + "; expected " + want);
  }
  check_layout(a, what, true, kHostArrays);
  if (a.nbytes() > 0) {
    const auto lo = reinterpret_cast<std::uintptr_t>(a.data);
    ranges.written.push_back({lo, lo + a.nbytes(), what});
  }
  void* data = a.data;
  keep.push_back(std::move(a));
  return data;
}

// Every array checked; the tensors for adafactor_run. Changes nothing.
std::vector<AfTensor> parse(const py::object& params_o, const py::object& grads_o,
                            const py::object& rows_o, const py::object& cols_o,
                            const py::object& vars_o, const py::object& names,
                            std::vector<ArrayView>& keep) {
  const py::sequence params = as_seq(params_o, "params"), grads = as_seq(grads_o, "grads"),
                     rows = as_seq(rows_o, "row_vars"), cols = as_seq(cols_o, "col_vars"),
                     vars = as_seq(vars_o, "variances");
  const std::size_t n = py::len(params);
  check_names(names, n);
  const char* list_names[] = {"grads", "row_vars", "col_vars", "variances"};
  const py::sequence* lists[] = {&grads, &rows, &cols, &vars};
  for (int k = 0; k < 4; ++k)
    if (py::len(*lists[k]) != n)
      throw py::value_error(std::string(list_names[k]) + ": has " +
                            std::to_string(py::len(*lists[k])) + " entries but params has " +
                            std::to_string(n));
  Parsed ranges;
  std::vector<AfTensor> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const Label pname{"params", &names, i}, gname{"grads", &names, i};
    ArrayView p = kHostArrays.view(params[i], pname);
    const DType dt = float_dtype(p, pname);
    check_layout(p, pname, true, kHostArrays);
    ArrayView g = kHostArrays.view(grads[i], gname);
    check_matches(g, gname, p, dt);
    check_layout(g, gname, false, kHostArrays);
    AfTensor t{};
    t.elem_size = dt == DType::F32 ? 4 : 8;
    t.p = p.data;
    t.g = g.data;
    t.numel = p.numel;
    t.matrix = p.ndim >= 2;
    std::vector<py::ssize_t> row_shape, col_shape, var_shape(p.shape, p.shape + p.ndim);
    if (t.matrix) {
      t.m = static_cast<std::size_t>(p.shape[p.ndim - 2]);
      t.n = static_cast<std::size_t>(p.shape[p.ndim - 1]);
      t.batches = 1;
      for (int d = 0; d < p.ndim - 2; ++d) t.batches *= static_cast<std::size_t>(p.shape[d]);
      row_shape = var_shape;
      row_shape.back() = 1;
      col_shape = var_shape;
      col_shape[p.ndim - 2] = 1;
    }
    t.row = state_array(rows[i], Label{"row_vars", &names, i}, p, dt, t.matrix ? &row_shape : nullptr,
                        ranges, keep);
    t.col = state_array(cols[i], Label{"col_vars", &names, i}, p, dt, t.matrix ? &col_shape : nullptr,
                        ranges, keep);
    t.var = state_array(vars[i], Label{"variances", &names, i}, p, dt, t.matrix ? nullptr : &var_shape,
                        ranges, keep);
    if (p.nbytes() > 0) {
      const auto lo = reinterpret_cast<std::uintptr_t>(p.data);
      ranges.written.push_back({lo, lo + p.nbytes(), pname});
    }
    if (g.nbytes() > 0) {
      const auto lo = reinterpret_cast<std::uintptr_t>(g.data);
      ranges.read.push_back({lo, lo + g.nbytes(), gname});
    }
    keep.push_back(std::move(p));
    keep.push_back(std::move(g));
    out.push_back(t);
  }
  check_overlaps(ranges);
  return out;
}

}  // namespace

void bind_adafactor(py::module_& m) {
  m.def(
      "adafactor_check",
      [](const py::object& params, const py::object& grads, const py::object& row_vars,
         const py::object& col_vars, const py::object& variances, const py::object& names) {
        std::vector<ArrayView> keep;
        parse(params, grads, row_vars, col_vars, variances, names, keep);
      },
      py::arg("params"), py::arg("grads"), py::arg("row_vars"), py::arg("col_vars"),
      py::arg("variances"), py::arg("names") = py::none(),
      "Run every check of adafactor_step and change nothing.");
  m.def(
      "adafactor_step",
      [](const py::object& params, const py::object& grads, const py::object& row_vars,
         const py::object& col_vars, const py::object& variances, double lr,
         double one_minus_beta2, double rho, double eps1, double eps2, double d,
         double weight_decay, bool maximize, const py::object& names) {
        std::vector<ArrayView> keep;  // holds every array while the GIL is released
        const std::vector<AfTensor> ts =
            parse(params, grads, row_vars, col_vars, variances, names, keep);
        const AfStep step{lr, one_minus_beta2, rho, eps1, eps2, d, weight_decay, maximize};
        const int threads = get_num_threads();
        py::gil_scoped_release release;
        adafactor_run(ts, step, threads);
      },
      py::arg("params"), py::arg("grads"), py::arg("row_vars"), py::arg("col_vars"),
      py::arg("variances"), py::kw_only(), py::arg("lr"), py::arg("one_minus_beta2"),
      py::arg("rho"), py::arg("eps1"), py::arg("eps2"), py::arg("d"), py::arg("weight_decay"),
      py::arg("maximize"), py::arg("names") = py::none(),
      "One Adafactor step over every array (checked first; eps1 < 0: each dtype's epsilon).");
}

}  // namespace fusedoptim
