// One registration function per binding file; module.cpp calls them all.
#pragma once
#include <pybind11/pybind11.h>

namespace fusedoptim {
namespace py = pybind11;
void bind_step(py::module_& m);
void bind_info(py::module_& m);
void bind_plan(py::module_& m);
void bind_reduce(py::module_& m);
void bind_losses(py::module_& m);
void bind_adafactor(py::module_& m);
void bind_blockwise8(py::module_& m);
void bind_copy(py::module_& m);
// The device modules' 8-bit entry points (device_blockwise8.cpp) and what they say about
// themselves (device_info.cpp: device_info, pack_layout), from device_module.cpp.
void bind_device_blockwise8(py::module_& m);
void bind_device_info(py::module_& m);
}  // namespace fusedoptim
