// Device arrays: any object with __cuda_array_interface__ (CuPy, PyTorch, Numba...),
// read into an ArrayView for the shared checks (array_checks.h).
#include "bindings/device_arrays.h"

#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "bindings/work_parse.h"
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
      if (PyLong_Check(id.ptr()))
        return static_cast<int>(int_arg(id, what.str() + ": device.id", 0, INT_MAX));
    }
  }
  if (nbytes == 0) return kAnyDevice;
  try {
    return pointer_device(data);
  } catch (const std::invalid_argument& e) {
    throw py::type_error(what.str() + ": " + e.what());
  }
}

// The interface's entry `key`, which must be there.
py::object entry(const py::dict& cai, const char* key, const Label& what) {
  if (!cai.contains(key))
    throw py::type_error(what.str() + ": __cuda_array_interface__ has no '" + key + "'");
  return cai[key];
}

py::tuple tuple_entry(const py::dict& cai, const char* key, const Label& what) {
  py::object v = entry(cai, key, what);
  if (!py::isinstance<py::tuple>(v))
    throw py::type_error(what.str() + ": __cuda_array_interface__['" + key +
                         "'] must be a tuple, got " + type_name(v));
  return py::reinterpret_borrow<py::tuple>(v);
}

// A typestr such as "<f4": byte order, kind letter, item size in decimal digits.
void read_typestr(const py::object& t, ArrayView& v, const Label& what) {
  const auto bad = [&] {
    return py::type_error(what.str() + ": __cuda_array_interface__['typestr'] " +
                          std::string(py::repr(t)) + " is not a typestr such as '<f4'");
  };
  if (!py::isinstance<py::str>(t)) throw bad();
  const std::string s = t.cast<std::string>();
  if (s.size() < 3 || s.size() > 5 || std::string("<>|=").find(s[0]) == std::string::npos)
    throw bad();
  std::size_t size = 0;
  for (std::size_t i = 2; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') throw bad();
    size = size * 10 + static_cast<std::size_t>(s[i] - '0');
  }
  v.kind = s[1];
  v.itemsize = size;
  v.native_order = s[0] == '<' || s[0] == '|' || s[0] == '=';
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
  const py::object iface = h.attr("__cuda_array_interface__");
  if (!py::isinstance<py::dict>(iface))
    throw py::type_error(what.str() + ": __cuda_array_interface__ must be a dict, got " +
                         type_name(iface));
  const py::dict cai = py::reinterpret_borrow<py::dict>(iface);
  ArrayView v;
  v.obj = py::reinterpret_borrow<py::object>(h);
  // Every number is checked before use: the address and extent decide what memory the
  // kernels touch.
  const py::tuple data = tuple_entry(cai, "data", what);
  if (data.size() != 2)
    throw py::type_error(what.str() + ": __cuda_array_interface__['data'] must be (address, "
                                      "read_only)");
  const std::string where = what.str() + ": __cuda_array_interface__";
  const auto address = static_cast<unsigned long long>(
      int_arg(data[0], where + "['data'][0]", 0, PTRDIFF_MAX));
  v.data = reinterpret_cast<void*>(static_cast<std::uintptr_t>(address));
  const int read_only = PyObject_IsTrue(data[1].ptr());
  if (read_only < 0) throw py::error_already_set();
  v.writeable = !read_only;
  read_typestr(entry(cai, "typestr", what), v, what);
  v.dtype_desc = cai["typestr"];
  // bfloat16 has no typestr of its own ("<V2", any 2-byte record): an array whose dtype
  // attribute is ml_dtypes' bfloat16 says what its bytes are (array_checks.cpp's
  // is_bfloat16 reads dtype_desc).
  if (v.kind == 'V' && v.itemsize == 2 && py::hasattr(h, "dtype")) {
    py::object dt = py::reinterpret_borrow<py::object>(h).attr("dtype");
    if (py::isinstance<py::dtype>(dt)) v.dtype_desc = dt;
  }
  const py::tuple shape = tuple_entry(cai, "shape", what);
  v.ndim = static_cast<int>(shape.size());
  if (v.ndim > 64) throw py::value_error(where + ": more than 64 dimensions");
  v.numel = 1;
  bool overflow = false;
  for (py::handle d : shape) {
    v.shape_store.push_back(
        static_cast<py::ssize_t>(int_arg(d, where + "['shape']", 0, PTRDIFF_MAX)));
    overflow |= __builtin_mul_overflow(v.numel, static_cast<std::size_t>(v.shape_store.back()),
                                       &v.numel);
  }
  v.shape = v.shape_store.data();
  std::size_t nbytes = 0;
  if (overflow || __builtin_mul_overflow(v.numel, v.itemsize, &nbytes) ||
      nbytes > static_cast<std::size_t>(PTRDIFF_MAX) - address)
    throw py::value_error(where + ": shape " + shape_str(v) + " of " + std::to_string(v.itemsize) +
                          "-byte items at that address is past the end of the address space");
  if (cai.contains("mask") && !cai["mask"].is_none())
    throw py::value_error(what.str() + ": masked device arrays are not supported");
  // C-contiguous: no strides, or the strides of a C-ordered array (dimensions of
  // length 1 may carry any stride).
  v.c_contiguous = true;
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    const py::tuple strides = tuple_entry(cai, "strides", what);
    if (static_cast<int>(strides.size()) != v.ndim)
      throw py::type_error(where + ": " + std::to_string(strides.size()) + " strides for " +
                           std::to_string(v.ndim) + " dimensions");
    long long expect = static_cast<long long>(v.itemsize);
    for (int i = v.ndim - 1; i >= 0; --i) {
      const long long stride = int_arg(strides[i], where + "['strides']", -PTRDIFF_MAX, PTRDIFF_MAX);
      if (v.numel == 0) continue;  // no element: any strides
      if (v.shape[i] != 1 && stride != expect) v.c_contiguous = false;
      expect *= v.shape[i];  // at most nbytes: no overflow
    }
  }
  v.aligned = v.itemsize == 0 || reinterpret_cast<std::uintptr_t>(v.data) % v.itemsize == 0;
  v.device = device_of(h, v.data, v.nbytes(), what);
  return v;
}

}  // namespace

const ArrayKind kDeviceArrays{"CUDA device", &cai_view, "cupy.ascontiguousarray"};

long first_unmapped(const std::vector<HostRange>& ranges) {
  if (ranges.empty()) return -1;
  struct Mapping {
    std::uintptr_t lo, hi;
    bool read, write;
  };
  std::vector<Mapping> maps;  // in address order, as the kernel lists them
#ifdef __linux__
  std::FILE* f = std::fopen("/proc/self/maps", "r");
  if (!f) throw std::runtime_error("the CUDA emulator cannot read /proc/self/maps to check memory");
  char line[4096];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long lo, hi;
    char perms[5] = {};
    if (std::sscanf(line, "%llx-%llx %4s", &lo, &hi, perms) == 3)
      maps.push_back({static_cast<std::uintptr_t>(lo), static_cast<std::uintptr_t>(hi),
                      perms[0] == 'r', perms[1] == 'w'});
  }
  std::fclose(f);
#else
  return -1;
#endif
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const HostRange& r = ranges[i];
    if (r.hi <= r.lo) continue;
    // Walk the mappings that cover [lo, hi) one after another, without a gap.
    std::uintptr_t at = r.lo;
    for (const Mapping& m : maps) {
      if (m.hi <= at) continue;
      if (m.lo > at || !m.read || (r.written && !m.write)) break;
      at = m.hi;
      if (at >= r.hi) break;
    }
    if (at < r.hi) return static_cast<long>(i);
  }
  return -1;
}

void check_host_memory(const Parsed& p) {
  std::vector<HostRange> ranges;
  std::vector<const Range*> of;
  for (const Range& r : p.written) ranges.push_back({r.lo, r.hi, true}), of.push_back(&r);
  for (const Range& r : p.read) ranges.push_back({r.lo, r.hi, false}), of.push_back(&r);
  const long bad = first_unmapped(ranges);
  if (bad < 0) return;
  const HostRange& r = ranges[bad];
  char span[64];
  std::snprintf(span, sizeof span, "[0x%llx, 0x%llx)", static_cast<unsigned long long>(r.lo),
                static_cast<unsigned long long>(r.hi));
  throw py::value_error(of[bad]->what.str() + ": its memory " + span +
                        " is not host memory this process may " +
                        (r.written ? "write" : "read") +
                        " (the emulator's device arrays are host memory)");
}

}  // namespace fusedoptim
