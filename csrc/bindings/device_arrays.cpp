// Device arrays: any object with __cuda_array_interface__ (CuPy, PyTorch, Numba...),
// read into an ArrayView for the shared checks (array_checks.h).
#include "bindings/device_arrays.h"

#include <stdexcept>
#include <string>

#include "cuda/device_apply.h"

namespace fusedoptim {
namespace {

std::string type_name(py::handle h) {
  return py::str(py::type::handle_of(h).attr("__name__"));
}

// The device of an array: its `device.id` where it has one (CuPy), else the device
// that owns its memory.
int device_of(py::handle h, void* data, std::size_t nbytes, const Label& what) {
  if (PyObject_HasAttrString(h.ptr(), "device")) {
    py::object dev = h.attr("device");
    if (PyObject_HasAttrString(dev.ptr(), "id")) {
      py::object id = dev.attr("id");
      if (PyLong_Check(id.ptr())) return id.cast<int>();
    }
  }
  if (nbytes == 0) return kAnyDevice;
  try {
    return pointer_device(data);
  } catch (const std::invalid_argument& e) {
    throw py::type_error(what.str() + ": " + e.what());
  }
}

ArrayView cai_view(py::handle h, const Label& what) {
  if (!is_device_array(h)) {
    if (py::isinstance<py::array>(h))
      throw py::type_error(what.str() + ": a host (NumPy) array among CUDA device arrays; every "
                                        "array of one call must be on the same side (cupy.asarray "
                                        "copies it to the GPU)");
    throw py::type_error(what.str() + ": expected a CUDA device array (CuPy, or any object with "
                                      "__cuda_array_interface__), got " + type_name(h));
  }
  const py::dict cai = h.attr("__cuda_array_interface__");
  ArrayView v;
  v.obj = py::reinterpret_borrow<py::object>(h);
  const py::tuple data = cai["data"];
  v.data = reinterpret_cast<void*>(data[0].cast<std::uintptr_t>());
  v.writeable = !data[1].cast<bool>();
  const py::tuple shape = cai["shape"];
  v.ndim = static_cast<int>(shape.size());
  v.numel = 1;
  for (py::handle d : shape) {
    v.shape_store.push_back(d.cast<py::ssize_t>());
    v.numel *= static_cast<std::size_t>(v.shape_store.back());
  }
  v.shape = v.shape_store.data();
  const std::string typestr = cai["typestr"].cast<std::string>();
  v.dtype_desc = cai["typestr"];
  if (typestr.size() >= 3) {
    v.kind = typestr[1];
    v.itemsize = std::stoul(typestr.substr(2));
    v.native_order = typestr[0] == '<' || typestr[0] == '|' || typestr[0] == '=';
  }
  if (cai.contains("mask") && !cai["mask"].is_none())
    throw py::value_error(what.str() + ": masked device arrays are not supported");
  // C-contiguous: no strides, or the strides of a C-ordered array (dimensions of
  // length 1 may carry any stride).
  v.c_contiguous = true;
  if (cai.contains("strides") && !cai["strides"].is_none() && v.numel > 0) {
    const py::tuple strides = cai["strides"];
    py::ssize_t expect = static_cast<py::ssize_t>(v.itemsize);
    for (int i = v.ndim - 1; i >= 0; --i) {
      if (v.shape[i] != 1 && strides[i].cast<py::ssize_t>() != expect) v.c_contiguous = false;
      expect *= v.shape[i];
    }
  }
  v.aligned = v.itemsize == 0 || reinterpret_cast<std::uintptr_t>(v.data) % v.itemsize == 0;
  v.device = device_of(h, v.data, v.nbytes(), what);
  return v;
}

}  // namespace

const ArrayKind kDeviceArrays{"CUDA device", &cai_view, "cupy.ascontiguousarray"};

}  // namespace fusedoptim
