// pybind11 lets Cls.__new__(Cls) make an instance without running __init__ and then
// hands its methods uninitialised memory as the C++ object. Methods of bound classes
// that hold state take `self` through constructed<T>(), which refuses such an
// instance (and any object that is not a T).
#pragma once
#include <pybind11/pybind11.h>

#include <string>
#include <typeinfo>

namespace fusedoptim {
namespace py = pybind11;

template <class T>
T& constructed(py::handle self, const char* cls) {
  namespace detail = py::detail;
  if (!py::isinstance<T>(self))
    throw py::type_error(std::string(cls) + ": self is a " +
                         std::string(py::str(py::type::handle_of(self).attr("__name__"))) +
                         ", not a " + cls);
  auto* inst = reinterpret_cast<detail::instance*>(self.ptr());
  const detail::value_and_holder vh = inst->get_value_and_holder(detail::get_type_info(typeid(T)));
  if (!vh.holder_constructed() || !vh.value_ptr())
    throw py::type_error(std::string(cls) + ": this instance was never initialised (made by " +
                         cls + ".__new__ without __init__)");
  return *vh.value_ptr<T>();
}

}  // namespace fusedoptim
