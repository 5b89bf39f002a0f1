// Checks on NumPy arrays handed to the kernels. Nothing here converts or copies:
// an array that is not exactly what the kernel needs is rejected with a message
// that names it (e.g. "grads[3]") and the problem.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

namespace fusedoptim {
namespace py = pybind11;

enum class DType { F32, F64 };

// How an array is called in messages, e.g. "grads[3]" or "grads['fc.weight']".
// Built only when a message is needed: checks run per array per step.
struct Label {
  static constexpr std::size_t kWhole = static_cast<std::size_t>(-1);  // one array, no index
  const char* operand;
  const py::object* names;  // None, or a list of str naming each index
  std::size_t index;
  std::string str() const;
};

std::string shape_str(const py::array& a);
std::string dtype_str(const py::array& a);

// Returns the array behind h or throws TypeError: `what` names it in the message.
py::array as_ndarray(py::handle h, const Label& what);

// float32 or float64 in native byte order, else TypeError.
DType float_dtype(const py::array& a, const Label& what);

// C-contiguous, aligned and, when `written`, writeable; else ValueError.
void check_layout(const py::array& a, const Label& what, bool written);

// Same dtype and shape as the param it belongs to; else TypeError / ValueError.
void check_matches(const py::array& a, const Label& what, const py::array& param,
                   DType param_dtype);

}  // namespace fusedoptim
