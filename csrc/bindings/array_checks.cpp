#include "bindings/array_checks.h"

namespace fusedoptim {

std::string Label::str() const {
  if (index == kWhole) return operand;
  std::string idx = (!names || names->is_none())
                        ? std::to_string(index)
                        : py::str(py::reinterpret_borrow<py::list>(*names)[index]).cast<std::string>();
  return std::string(operand) + "[" + idx + "]";
}

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

py::array as_ndarray(py::handle h, const Label& what) {
  if (!py::isinstance<py::array>(h))
    throw py::type_error(what.str() + ": expected a numpy.ndarray, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  return py::reinterpret_borrow<py::array>(h);
}

DType float_dtype(const py::array& a, const Label& what) {
  const py::dtype dt = a.dtype();
  const char order = dt.byteorder();
  const bool native = order == '=' || order == '|' ||
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
                      order == '>';
#else
                      order == '<';
#endif
  if (dt.kind() == 'f' && native && dt.itemsize() == 4) return DType::F32;
  if (dt.kind() == 'f' && native && dt.itemsize() == 8) return DType::F64;
  throw py::type_error(what.str() + ": dtype " + dtype_str(a) +
                       " is not supported; use float32 or float64 (native byte order)");
}

void check_layout(const py::array& a, const Label& what, bool written) {
  const int flags = a.flags();
  if (!(flags & py::array::c_style))
    throw py::value_error(what.str() + ": array is not C-contiguous; fusedoptim never copies the "
                                 "arrays it works on (use np.ascontiguousarray before creating "
                                 "the optimizer)");
  if (!(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(what.str() + ": array data is not aligned to its dtype");
  if (written && !(flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_))
    throw py::value_error(what.str() + ": array is read-only but must be updated in place");
}

void check_matches(const py::array& a, const Label& what, const py::array& param,
                   DType param_dtype) {
  if (float_dtype(a, what) != param_dtype)
    throw py::type_error(what.str() + ": dtype " + dtype_str(a) + " does not match its param's dtype " +
                         dtype_str(param));
  bool same = a.ndim() == param.ndim();
  for (py::ssize_t i = 0; same && i < a.ndim(); ++i) same = a.shape(i) == param.shape(i);
  if (!same)
    throw py::value_error(what.str() + ": shape " + shape_str(a) + " does not match its param's shape " +
                          shape_str(param));
}

}  // namespace fusedoptim
