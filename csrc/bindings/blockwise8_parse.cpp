// The checks of blockwise8_check / blockwise8_step (kind "adam", "momentum" or "lion"),
// for any ArrayKind: per param, the dtype of state1s[i] picks the path (uint8 codes with
// float32 absmax, or float32 moments); every array is checked before anything runs.
#include "bindings/blockwise8_parse.h"

#include <cstdint>
#include <string>
#include <utility>

namespace fusedoptim {
namespace {

std::string type_name(py::handle h) { return py::str(py::type::handle_of(h).attr("__name__")); }

Q8Kind parse_kind(const py::object& kind) {
  if (!py::isinstance<py::str>(kind))
    throw py::type_error("kind: expected a str ('adam', 'momentum' or 'lion'), got " + type_name(kind));
  const std::string k = kind.cast<std::string>();
  if (k == "adam") return Q8Kind::Adam;
  if (k == "momentum") return Q8Kind::Momentum;
  if (k == "lion") return Q8Kind::Lion;
  throw py::value_error("kind: expected 'adam', 'momentum' or 'lion', got '" + k + "'");
}

const char* kind_name(Q8Kind k) {
  return k == Q8Kind::Adam ? "adam" : k == Q8Kind::Momentum ? "momentum" : "lion";
}

// A list or tuple of n entries; for an optional list (`optional`), None stands for n Nones.
py::object as_list(const py::object& h, const char* what, std::size_t n, bool optional) {
  if (optional && h.is_none()) return h;
  if (!py::isinstance<py::list>(h) && !py::isinstance<py::tuple>(h))
    throw py::type_error(std::string(what) + ": expected a list" + (optional ? " or None" : "") +
                         ", got " + type_name(h));
  const std::size_t len = py::len(h);
  if (len != n)
    throw py::value_error(std::string(what) + ": has " + std::to_string(len) +
                          " entries but params has " + std::to_string(n));
  return h;
}

py::handle item(const py::object& list, std::size_t i) {
  if (list.is_none()) return py::none();
  return PySequence_Fast_GET_ITEM(list.ptr(), static_cast<Py_ssize_t>(i));
}

void add_range(std::vector<Range>& to, const ArrayView& a, const Label& what) {
  if (a.nbytes() == 0) return;
  const auto lo = reinterpret_cast<std::uintptr_t>(a.data);
  to.push_back({lo, lo + a.nbytes(), what});
}

void expect_none(py::handle h, const Label& what, const std::string& why) {
  if (!h.is_none()) throw py::value_error(what.str() + ": expected None, " + why);
}

// The arrays of one call, read through one ArrayKind, and what they touch.
struct Reader {
  const ArrayKind& kind;
  std::vector<ArrayView>& keep;
  Parsed& ranges;
  int& device;  // the call's (its first param's)

  // An array on the call's device (an empty one is on any).
  void same_device_as_call(const ArrayView& a, const std::string& what) {
    if (!fusedoptim::same_device(a.device, device))
      throw py::value_error(what + ": on CUDA device " + std::to_string(a.device) +
                            " but the call's first param is on device " +
                            std::to_string(device) + "; one call runs on one device");
    if (device == kAnyDevice) device = a.device;
  }

  // A state array of param i: its dtype (uint8 or float32), the param's shape, C-contiguous
  // and writeable. Returns whether it is 8-bit.
  bool state_array(py::handle h, const Label& what, const ArrayView& param, void** data) {
    if (h.is_none())
      throw py::value_error(what.str() + ": missing; its param of shape " + shape_str(param) +
                            " needs it");
    ArrayView a = kind.view(h, what);
    const bool u8 = a.kind == 'u' && a.itemsize == 1;
    const bool f32 = a.kind == 'f' && a.itemsize == 4 && a.native_order;
    if (!u8 && !f32)
      throw py::type_error(what.str() + ": dtype " + dtype_str(a) +
                           "; expected uint8 (8-bit state) or float32 (32-bit state)");
    check_same_shape(a, what, param);
    check_layout(a, what, true, kind);
    add_range(ranges.written, a, what);
    *data = a.data;
    keep.push_back(std::move(a));
    return u8;
  }

  // The absmax of an 8-bit state: float32, 1-D, ceil(numel / 256) values, writeable, on
  // its param's device.
  float* absmax_array(py::handle h, const Label& what, const ArrayView& param) {
    const std::size_t numel = param.numel;
    const std::size_t blocks = (numel + blockwise8::kBlock - 1) / blockwise8::kBlock;
    if (h.is_none())
      throw py::value_error(what.str() + ": missing; an 8-bit state of " + std::to_string(numel) +
                            " values needs " + std::to_string(blocks) + " absmax values");
    ArrayView a = kind.view(h, what);
    if (float_dtype(a, what) != DType::F32)
      throw py::type_error(what.str() + ": dtype " + dtype_str(a) + "; expected float32");
    if (a.ndim != 1 || a.numel != blocks)
      throw py::value_error(what.str() + ": shape " + shape_str(a) + "; an 8-bit state of " +
                            std::to_string(numel) + " values needs shape (" +
                            std::to_string(blocks) + ",) (one absmax per block of 256)");
    if (!fusedoptim::same_device(a.device, param.device))
      throw py::value_error(what.str() + ": on CUDA device " + std::to_string(a.device) +
                            " but its param is on device " + std::to_string(param.device) +
                            "; every array of one call must be on one device");
    check_layout(a, what, true, kind);
    add_range(ranges.written, a, what);
    float* data = static_cast<float*>(a.data);
    keep.push_back(std::move(a));
    return data;
  }

  // A map: float32, 256 values, C-contiguous, on the call's device; read only. Host maps
  // must be sorted, without NaN (the host table is built by a merge sweep).
  const float* qmap_array(py::handle h, const char* what) {
    const Label label{what, nullptr, Label::kWhole};
    ArrayView a = kind.view(h, label);
    if (float_dtype(a, label) != DType::F32)
      throw py::type_error(std::string(what) + ": dtype " + dtype_str(a) + "; expected float32");
    if (a.ndim != 1 || a.numel != 256)
      throw py::value_error(std::string(what) + ": shape " + shape_str(a) + "; expected (256,)");
    check_layout(a, label, false, kind);
    same_device_as_call(a, what);
    const float* q = static_cast<const float*>(a.data);
    if (&kind == &kHostArrays)
      for (int k = 0; k < 255; ++k)
        if (!(q[k] <= q[k + 1]))
          throw py::value_error(std::string(what) + ": values must be sorted and not NaN (entries " +
                                std::to_string(k) + " and " + std::to_string(k + 1) + " are not)");
    add_range(ranges.read, a, label);
    keep.push_back(std::move(a));
    return q;
  }
};

}  // namespace

Q8Call parse_blockwise8(const py::object& kind_o, const py::object& params_o,
                        const py::object& grads_o, const py::object& s1_o,
                        const py::object& s2_o, const py::object& a1_o, const py::object& a2_o,
                        const py::object& q1_o, const py::object& q2_o, const py::object& names,
                        const ArrayKind& arrays, std::vector<ArrayView>& keep) {
  Q8Call call;
  call.kind = parse_kind(kind_o);
  const bool adam = call.kind == Q8Kind::Adam;
  if (!py::isinstance<py::list>(params_o) && !py::isinstance<py::tuple>(params_o))
    throw py::type_error("params: expected a list, got " + type_name(params_o));
  const std::size_t n = py::len(params_o);
  check_names(names, n);
  // Fast sequences: items read without new references while the checks run.
  const py::object params = as_list(params_o, "params", n, false);
  const py::object grads = as_list(grads_o, "grads", n, false);
  const py::object s1 = as_list(s1_o, "state1s", n, false);
  const py::object s2 = as_list(s2_o, "state2s", n, !adam);
  const py::object a1 = as_list(a1_o, "absmax1s", n, false);
  const py::object a2 = as_list(a2_o, "absmax2s", n, !adam);
  const std::string one_state = std::string("since kind '") + kind_name(call.kind) +
                                "' keeps one state (state2s, absmax2s and qmap2 are adam's)";
  if (!adam && !q2_o.is_none()) throw py::value_error("qmap2: expected None, " + one_state);
  Reader rd{arrays, keep, call.ranges, call.device};
  std::size_t first_q8 = n;
  for (std::size_t i = 0; i < n; ++i) {
    const Label pname{"params", &names, i}, gname{"grads", &names, i};
    ArrayView p = arrays.view(item(params, i), pname);
    if (float_dtype(p, pname) != DType::F32)
      throw py::type_error(pname.str() + ": dtype " + dtype_str(p) +
                           "; the 8-bit optimizers take float32 params");
    check_layout(p, pname, true, arrays);
    rd.same_device_as_call(p, pname.str());
    ArrayView g = arrays.view(item(grads, i), gname);
    check_matches(g, gname, p, DType::F32);
    check_layout(g, gname, false, arrays);
    Q8Tensor t{};
    t.p = static_cast<float*>(p.data);
    t.g = static_cast<const float*>(g.data);
    t.numel = p.numel;
    const Label s1name{"state1s", &names, i}, s2name{"state2s", &names, i};
    const Label a1name{"absmax1s", &names, i}, a2name{"absmax2s", &names, i};
    t.q8 = rd.state_array(item(s1, i), s1name, p, &t.s1);
    if (adam) {
      const bool q8b = rd.state_array(item(s2, i), s2name, p, &t.s2);
      if (q8b != t.q8)
        throw py::type_error(s2name.str() + ": dtype " + (q8b ? "uint8" : "float32") +
                             " does not match state1s' " + (t.q8 ? "uint8" : "float32") +
                             "; both moments of a param are 8-bit or both float32");
    } else {
      expect_none(item(s2, i), s2name, one_state);
      expect_none(item(a2, i), a2name, one_state);
    }
    if (t.q8) {
      t.a1 = rd.absmax_array(item(a1, i), a1name, p);
      if (adam) t.a2 = rd.absmax_array(item(a2, i), a2name, p);
      if (first_q8 == n) first_q8 = i;
    } else {
      const std::string why = "since " + s1name.str() + " is float32 (32-bit state has no absmax)";
      expect_none(item(a1, i), a1name, why);
      if (adam) expect_none(item(a2, i), a2name, why);
    }
    add_range(call.ranges.written, p, pname);
    add_range(call.ranges.read, g, gname);
    keep.push_back(std::move(p));
    keep.push_back(std::move(g));
    call.tensors.push_back(t);
  }
  const std::string need =
      first_q8 < n ? Label{"params", &names, first_q8}.str() + " has 8-bit state" : "";
  if (!q1_o.is_none())
    call.qmap1 = rd.qmap_array(q1_o, "qmap1");
  else if (first_q8 < n)
    throw py::value_error("qmap1: missing; " + need);
  if (adam) {
    if (!q2_o.is_none())
      call.qmap2 = rd.qmap_array(q2_o, "qmap2");
    else if (first_q8 < n)
      throw py::value_error("qmap2: missing; " + need);
  }
  check_overlaps(call.ranges);
  return call;
}

Q8Step blockwise8_step_args(const py::object& kind, double lr, double beta1, double beta2,
                            double eps, double weight_decay, double momentum,
                            const py::object& step_o) {
  const long long step = int_arg(step_o, "step", 1, (1LL << 62));
  const Q8Kind k = parse_kind(kind);
  if (k == Q8Kind::Momentum && momentum == 0.0)
    throw py::value_error("momentum: must not be 0 (8-bit SGD keeps a momentum buffer; "
                          "SGD without momentum is not supported)");
  return Q8Step{k, lr, beta1, beta2, eps, weight_decay, momentum, step};
}

}  // namespace fusedoptim
