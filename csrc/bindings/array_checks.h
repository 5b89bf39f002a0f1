// Checks on the arrays handed to the kernels. Nothing here converts or copies:
// an array that is not exactly what the kernel needs is rejected with a message
// that names it (e.g. "grads[3]") and the problem.
//
// Host (NumPy) arrays and device arrays (__cuda_array_interface__) are both read
// into an ArrayView, so every check is written once for both.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace fusedoptim {
namespace py = pybind11;

// Element types, numbered as engine/multi_tensor.h's ElemType.
enum class DType { F32 = 0, F64 = 1, F16 = 2, BF16 = 3 };

// ArrayView::device of an empty device array whose device nothing tells: it matches any.
constexpr int kAnyDevice = -3;
inline bool same_device(int a, int b) { return a == b || a == kAnyDevice || b == kAnyDevice; }

// How an array is called in messages, e.g. "grads[3]" or "grads['fc.weight']".
// Built only when a message is needed: checks run per array per step.
struct Label {
  static constexpr std::size_t kWhole = static_cast<std::size_t>(-1);  // one array, no index
  const char* operand;
  const py::object* names;  // None, or a list of str naming each index
  std::size_t index;
  std::string str() const;
};

// What the checks need to know of one array.
struct ArrayView {
  py::object obj;        // the array (kept alive while the view is used)
  void* data = nullptr;
  int ndim = 0;
  const py::ssize_t* shape = nullptr;  // ndim entries
  std::vector<py::ssize_t> shape_store;  // owns `shape` where the array does not
  std::size_t numel = 0;
  std::size_t itemsize = 0;
  char kind = 0;            // dtype kind: 'f', 'i', ...
  bool native_order = true;
  bool c_contiguous = false;
  bool aligned = false;
  bool writeable = false;
  int device = -1;          // CUDA device ordinal; -1 for host memory
  py::object dtype_desc;    // the dtype (NumPy) or typestr (device), for messages
  std::size_t nbytes() const { return numel * itemsize; }

  // Moves keep `shape` valid (a vector's buffer moves with it); a copy would not.
  ArrayView() = default;
  ArrayView(ArrayView&&) noexcept = default;
  ArrayView& operator=(ArrayView&&) noexcept = default;
  ArrayView(const ArrayView&) = delete;
  ArrayView& operator=(const ArrayView&) = delete;
};

// How arrays of one kind (host or device) are read and what a user is told to do
// with an array of the other kind.
struct ArrayKind {
  const char* name;  // "host (NumPy)" or "CUDA device"
  // The view of h, or TypeError naming `what` when h is not an array of this kind.
  ArrayView (*view)(py::handle h, const Label& what);
  const char* contiguous_hint;  // how to get a C-contiguous array of this kind
};

extern const ArrayKind kHostArrays;

std::string shape_str(const ArrayView& a);
std::string dtype_str(const ArrayView& a);
// Whether h is a CUDA device array: its type has __cuda_array_interface__ (and, for a
// PyTorch tensor, it is on the GPU).
bool is_device_array(py::handle h);

ArrayView numpy_view(const py::array& a);

// float32 or float64 in native byte order, else TypeError.
DType float_dtype(const ArrayView& a, const Label& what);
// float_dtype, or with `half` also float16 and bfloat16 (ml_dtypes; on the device, an
// array whose dtype attribute is ml_dtypes' bfloat16, device_arrays.cpp):
// the dtypes of an optimizer step's params, grads and state.
DType step_dtype(const ArrayView& a, const Label& what, bool half);

// C-contiguous, aligned and, when `written`, writeable; else ValueError.
void check_layout(const ArrayView& a, const Label& what, bool written, const ArrayKind& kind);

// Same dtype, shape and device as the param it belongs to; else TypeError / ValueError.
void check_matches(const ArrayView& a, const Label& what, const ArrayView& param,
                   DType param_dtype);
// Same shape and device as its param (check_matches without the dtype).
void check_same_shape(const ArrayView& a, const Label& what, const ArrayView& param);

// Scalar arguments read from Python objects (work tuples): an integer (anything with
// __index__) in [lo, hi], or a float (anything float() takes); else TypeError /
// ValueError naming `what`.
long long int_arg(py::handle h, const std::string& what, long long lo, long long hi);
double float_arg(py::handle h, const std::string& what);

// None, or a list or tuple of n names (one per array); else TypeError / ValueError.
void check_names(const py::object& names, std::size_t n);

}  // namespace fusedoptim
