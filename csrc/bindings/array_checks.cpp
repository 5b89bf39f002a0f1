#include "bindings/array_checks.h"

namespace fusedoptim {

std::string Label::str() const {
  if (index == kWhole) return operand;
  std::string idx = std::to_string(index);
  // Names come from the caller: any sequence. One that cannot name this index (too
  // short, not a sequence, an item whose str() fails) leaves the number.
  if (names && !names->is_none() && !PyUnicode_Check(names->ptr()) &&
      PySequence_Check(names->ptr())) {
    PyObject* item = PySequence_GetItem(names->ptr(), static_cast<Py_ssize_t>(index));
    PyObject* text = item ? PyObject_Str(item) : nullptr;
    const char* utf8 = text ? PyUnicode_AsUTF8(text) : nullptr;
    if (utf8) idx = utf8;
    Py_XDECREF(text);
    Py_XDECREF(item);
    if (!utf8) PyErr_Clear();
  }
  return std::string(operand) + "[" + idx + "]";
}

std::string shape_str(const ArrayView& a) {
  std::string s = "(";
  for (int i = 0; i < a.ndim; ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape[i]);
  }
  if (a.ndim == 1) s += ",";
  return s + ")";
}

std::string dtype_str(const ArrayView& a) {
  if (py::isinstance<py::dtype>(a.dtype_desc)) return py::str(a.dtype_desc).cast<std::string>();
  // A typestr such as "<f4": said as NumPy would say it.
  try {
    return py::str(py::module_::import("numpy").attr("dtype")(a.dtype_desc)).cast<std::string>();
  } catch (const py::error_already_set&) {
    return py::str(a.dtype_desc).cast<std::string>();
  }
}

bool is_device_array(py::handle h) {
  if (PyObject_HasAttrString(reinterpret_cast<PyObject*>(Py_TYPE(h.ptr())),
                             "__cuda_array_interface__") != 1)
    return false;
  // PyTorch gives every tensor type the property; its CPU tensors say is_cuda = False.
  if (PyObject_HasAttrString(h.ptr(), "is_cuda") == 1)
    return PyObject_IsTrue(h.attr("is_cuda").ptr()) == 1;
  return true;
}

ArrayView numpy_view(const py::array& a) {
  using py::detail::npy_api;
  ArrayView v;
  v.obj = a;
  v.data = const_cast<void*>(a.data());
  v.ndim = static_cast<int>(a.ndim());
  v.shape = a.shape();
  v.numel = static_cast<std::size_t>(a.size());
  const py::dtype dt = a.dtype();
  v.itemsize = static_cast<std::size_t>(dt.itemsize());
  v.kind = dt.kind();
  const char order = dt.byteorder();
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v.native_order = order == '=' || order == '|' || order == '>';
#else
  v.native_order = order == '=' || order == '|' || order == '<';
#endif
  const int flags = a.flags();
  v.c_contiguous = flags & py::array::c_style;
  v.aligned = flags & npy_api::NPY_ARRAY_ALIGNED_;
  v.writeable = flags & npy_api::NPY_ARRAY_WRITEABLE_;
  v.dtype_desc = dt;
  return v;
}

namespace {

ArrayView host_view(py::handle h, const Label& what) {
  if (!py::isinstance<py::array>(h)) {
    const std::string type = py::str(py::type::handle_of(h).attr("__name__"));
    if (is_device_array(h))
      throw py::type_error(what.str() + ": " + type +
                           " is a CUDA device array, but this call runs on host (NumPy) arrays "
                           "(only the first-order optimizers and fusedoptim.functional run on "
                           "device arrays, all of one call on one side)");
    throw py::type_error(what.str() + ": expected a numpy.ndarray, got " + type);
  }
  return numpy_view(py::reinterpret_borrow<py::array>(h));
}

}  // namespace

const ArrayKind kHostArrays{"host (NumPy)", &host_view, "np.ascontiguousarray"};

DType float_dtype(const ArrayView& a, const Label& what) {
  if (a.kind == 'f' && a.native_order && a.itemsize == 4) return DType::F32;
  if (a.kind == 'f' && a.native_order && a.itemsize == 8) return DType::F64;
  throw py::type_error(what.str() + ": dtype " + dtype_str(a) +
                       " is not supported; use float32 or float64 (native byte order)");
}

namespace {
bool is_bfloat16(const ArrayView& a) {
  return a.kind == 'V' && a.itemsize == 2 && py::isinstance<py::dtype>(a.dtype_desc) &&
         std::string(py::str(a.dtype_desc.attr("name"))) == "bfloat16";
}
}  // namespace

DType step_dtype(const ArrayView& a, const Label& what, bool half) {
  if (a.kind == 'f' && a.native_order && a.itemsize == 4) return DType::F32;
  if (a.kind == 'f' && a.native_order && a.itemsize == 8) return DType::F64;
  if (half && a.kind == 'f' && a.native_order && a.itemsize == 2) return DType::F16;
  if (half && is_bfloat16(a)) return DType::BF16;
  throw py::type_error(what.str() + ": dtype " + dtype_str(a) + " is not supported; use " +
                       (half ? "float32, float64, float16 or bfloat16 (ml_dtypes)"
                             : "float32 or float64") +
                       " (native byte order)");
}

void check_layout(const ArrayView& a, const Label& what, bool written, const ArrayKind& kind) {
  if (!a.c_contiguous)
    throw py::value_error(what.str() + ": array is not C-contiguous; fusedoptim never copies the "
                                 "arrays it works on (use " + std::string(kind.contiguous_hint) +
                          " before creating the optimizer)");
  if (!a.aligned) throw py::value_error(what.str() + ": array data is not aligned to its dtype");
  if (written && !a.writeable)
    throw py::value_error(what.str() + ": array is read-only but must be updated in place");
}

void check_matches(const ArrayView& a, const Label& what, const ArrayView& param,
                   DType param_dtype) {
  if (step_dtype(a, what, param_dtype == DType::F16 || param_dtype == DType::BF16) != param_dtype)
    throw py::type_error(what.str() + ": dtype " + dtype_str(a) + " does not match its param's dtype " +
                         dtype_str(param));
  check_same_shape(a, what, param);
}

void check_same_shape(const ArrayView& a, const Label& what, const ArrayView& param) {
  bool same = a.ndim == param.ndim;
  for (int i = 0; same && i < a.ndim; ++i) same = a.shape[i] == param.shape[i];
  if (!same)
    throw py::value_error(what.str() + ": shape " + shape_str(a) + " does not match its param's shape " +
                          shape_str(param));
  if (!same_device(a.device, param.device))
    throw py::value_error(what.str() + ": on CUDA device " + std::to_string(a.device) +
                          " but its param is on device " + std::to_string(param.device) +
                          "; every array of one call must be on one device");
}

namespace {
std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }
}  // namespace

long long int_arg(py::handle h, const std::string& what, long long lo, long long hi) {
  // PyNumber_Index takes Python and NumPy integers and refuses floats.
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
  if (!i) {
    PyErr_Clear();
    throw py::type_error(what + ": expected an int, got " + type_name(h));
  }
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow || v < lo || v > hi)
    throw py::value_error(what + ": " + std::string(py::str(i)) + " is out of range [" +
                          std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

double float_arg(py::handle h, const std::string& what) {
  const double v = PyFloat_AsDouble(h.ptr());
  if (v == -1.0 && PyErr_Occurred()) {
    PyErr_Clear();
    throw py::type_error(what + ": expected a float, got " + type_name(h));
  }
  return v;
}

void check_names(const py::object& names, std::size_t n) {
  if (names.is_none()) return;
  if (!py::isinstance<py::list>(names) && !py::isinstance<py::tuple>(names))
    throw py::type_error("names: expected None or a list of str, got " + type_name(names));
  if (py::len(names) != n)
    throw py::value_error("names: " + std::to_string(py::len(names)) + " names for " +
                          std::to_string(n) + " arrays");
}

}  // namespace fusedoptim
