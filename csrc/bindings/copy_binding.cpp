// pack(arrays, out, offset, names) and unpack(flat, arrays, offset, scale, names): the
// copies between a list of arrays and one flat buffer around a collective (gradient
// buckets of fusedoptim.distributed). One multi-tensor pass each: the engine cuts every
// tensor into chunks and spreads them over the threads (engine/multi_tensor.h), so one
// huge tensor among small ones still uses every thread. Everything is checked before
// the first element is written.
#include <pybind11/pybind11.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "bindings/array_checks.h"
#include "bindings/bindings.h"
#include "bindings/work_parse.h"
#include "engine/copy_kernels.h"
#include "engine/multi_tensor.h"
#include "engine/parallel.h"

namespace fusedoptim {
namespace {

// A checked copy, ready to run: the arrays it points at are held by `views`.
struct CopyJob {
  std::vector<ArrayView> views;
  std::vector<Launch> launches;  // one launch: destination operand 0, source operand 1
  std::size_t end = 0;           // the element after the last one of the flat range
};

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

std::string flat_range(const char* buf_name, std::size_t lo, std::size_t hi) {
  return std::string(buf_name) + "[" + std::to_string(lo) + ":" + std::to_string(hi) + "]";
}

// Checks a pack (`to_arrays` false: arrays -> buf) or an unpack (true: buf -> arrays) and
// returns its job; the launch's kernel is left for the caller to choose.
CopyJob check_copy(const py::object& arrays_obj, const char* buf_name, const py::object& buf_obj,
                   const py::object& offset_obj, const py::object& names, bool to_arrays) {
  const Label bname{buf_name, nullptr, Label::kWhole};
  CopyJob job;
  job.views.push_back(kHostArrays.view(buf_obj, bname));
  const DType dt = float_dtype(job.views[0], bname);
  if (job.views[0].ndim != 1)
    throw py::value_error(std::string(buf_name) + ": expected a 1-D array, got shape " +
                          shape_str(job.views[0]));
  check_layout(job.views[0], bname, !to_arrays, kHostArrays);

  if (!py::isinstance<py::list>(arrays_obj) && !py::isinstance<py::tuple>(arrays_obj))
    throw py::type_error("arrays: expected a list of arrays, got " + type_name(arrays_obj));
  const py::sequence arrays = py::reinterpret_borrow<py::sequence>(arrays_obj);
  const std::size_t n = py::len(arrays);
  check_names(names, n);
  const auto offset = static_cast<std::size_t>(
      int_arg(offset_obj, "offset", 0, std::numeric_limits<py::ssize_t>::max()));

  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Label what{"arrays", &names, i};
    ArrayView v = kHostArrays.view(arrays[i], what);
    if (float_dtype(v, what) != dt)
      throw py::type_error(what.str() + ": dtype " + dtype_str(v) + " does not match " + buf_name +
                           "'s dtype " + dtype_str(job.views[0]));
    check_layout(v, what, to_arrays, kHostArrays);
    total += v.numel;  // each numel is below 2**63 / itemsize: no overflow for any list
    job.views.push_back(std::move(v));
  }
  const ArrayView& buf = job.views[0];
  if (offset > buf.numel || total > buf.numel - offset)
    throw py::value_error("offset: " + std::to_string(offset) + " + " + std::to_string(total) +
                          " elements of arrays run past the " + std::to_string(buf.numel) +
                          " elements of " + buf_name);
  job.end = offset + total;

  // No array may share memory with the range of buf this call touches, and (unpack) no
  // target with another target: the copy runs in chunks on many threads, in no order.
  const auto base = reinterpret_cast<std::uintptr_t>(buf.data);
  const std::uintptr_t lo = base + offset * buf.itemsize, hi = base + job.end * buf.itemsize;
  const std::string region = flat_range(buf_name, offset, job.end);
  Parsed p;
  for (std::size_t i = 1; i < job.views.size(); ++i) {
    const ArrayView& v = job.views[i];
    const auto a = reinterpret_cast<std::uintptr_t>(v.data);
    if (v.nbytes() == 0) continue;
    if (a < hi && lo < a + v.nbytes())
      throw py::value_error(Label{"arrays", &names, i - 1}.str() + " shares memory with " + region +
                            (to_arrays ? ", which unpack reads" : ", which pack writes") +
                            "; the flat buffer must be separate from the arrays");
    if (to_arrays) p.written.push_back({a, a + v.nbytes(), Label{"arrays", &names, i - 1}});
  }
  check_overlaps(p);  // unpack's targets among themselves

  Launch l;
  l.n_operands = 2;
  l.elem_size = buf.itemsize;
  std::size_t at = offset;
  for (std::size_t i = 1; i < job.views.size(); ++i) {
    const ArrayView& v = job.views[i];
    void* flat = static_cast<char*>(buf.data) + at * buf.itemsize;
    TensorSlot slot{};
    slot.ptr[0] = to_arrays ? v.data : flat;
    slot.ptr[1] = to_arrays ? flat : v.data;
    slot.numel = v.numel;
    l.tensors.push_back(slot);
    at += v.numel;
  }
  job.launches.push_back(std::move(l));
  return job;
}

std::size_t run(CopyJob& job) {
  const int threads = get_num_threads();
  py::gil_scoped_release release;
  multi_tensor_apply(job.launches, threads);
  return job.end;
}

}  // namespace

void bind_copy(py::module_& m) {
  m.def(
      "pack",
      [](const py::object& arrays, const py::object& out, const py::object& offset,
         const py::object& names) {
        CopyJob job = check_copy(arrays, "out", out, offset, names, false);
        job.launches[0].fn = job.launches[0].elem_size == 4 ? &copy_chunk<4> : &copy_chunk<8>;
        return run(job);
      },
      py::arg("arrays"), py::arg("out"), py::arg("offset") = 0, py::arg("names") = py::none(),
      "Copy arrays[0], arrays[1], ... back to back into out[offset : offset + total] (total: "
      "their element count) in one multi-tensor pass; return offset + total. out is a 1-D, "
      "C-contiguous, writeable float32 or float64 array; every array is C-contiguous, of any "
      "shape, of out's dtype, and shares no memory with the range written. Everything is "
      "checked before anything is written.");
  m.def(
      "unpack",
      [](const py::object& flat, const py::object& arrays, const py::object& offset,
         const py::object& scale_obj, const py::object& names) {
        const double scale = float_arg(scale_obj, "scale");
        const std::string shown = py::repr(py::float_(scale));
        if (!std::isfinite(scale)) throw py::value_error("scale: must be finite, got " + shown);
        CopyJob job = check_copy(arrays, "flat", flat, offset, names, true);
        Launch& l = job.launches[0];
        // The smallest double that rounds to float32 infinity: FLT_MAX plus half its ulp.
        if (l.elem_size == 4 && std::fabs(scale) >= 0x1.ffffffp+127)
          throw py::value_error("scale: " + shown + " is not finite in float32, the dtype of flat");
        l.hyper.s[kCopyScale] = scale;
        if (scale == 1.0)
          l.fn = l.elem_size == 4 ? &copy_chunk<4> : &copy_chunk<8>;
        else
          l.fn = l.elem_size == 4 ? &scale_chunk<float> : &scale_chunk<double>;
        return run(job);
      },
      py::arg("flat"), py::arg("arrays"), py::arg("offset") = 0, py::arg("scale") = 1.0,
      py::arg("names") = py::none(),
      "Set arrays[k][...] = flat[o_k : o_k + size_k] * scale for consecutive ranges from "
      "o_0 = offset, in one multi-tensor pass; return the end offset. scale == 1 copies the "
      "bits exactly; any other (finite) scale is rounded once to the dtype and multiplied in "
      "it: for float32 each value is x * np.float32(scale), NumPy's "
      "flat[a:b] * np.asarray(scale, flat.dtype) bit for bit. flat is a 1-D, C-contiguous "
      "float32 or float64 array; every target is C-contiguous, writeable, of flat's dtype, of "
      "any shape, and shares no memory with the range read or with another target. "
      "Everything is checked before anything is written.");
}

}  // namespace fusedoptim
