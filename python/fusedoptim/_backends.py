"""Where a step runs: on the host (NumPy arrays, fusedoptim._core) or on a CUDA
device (arrays with ``__cuda_array_interface__``, fusedoptim._cuda).

Both backends take the same works (see functional.py) and have the same entry
points; an optimizer picks its backend from its first param and keeps its state
as arrays of the params' kind. The device backend also knows how to allocate
state next to a param and how to copy arrays to and from NumPy (state_dict).
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

from . import _native
from ._typing import Work

_BUILD_HINT = ("reinstall with the CUDA extension: "
               "pip install . -Ccmake.define.FUSEDOPTIM_CUDA=ON (needs nvcc)")


def is_device_array(x: object) -> bool:
    """Whether x is a CUDA device array: its type has ``__cuda_array_interface__`` (and,
    for a PyTorch tensor, whose every type has it, the tensor is on the GPU)."""
    if not hasattr(type(x), "__cuda_array_interface__"):
        return False
    is_cuda = getattr(x, "is_cuda", None)
    return True if is_cuda is None else bool(is_cuda)


class HostBackend:
    """NumPy arrays, the CPU kernels."""

    name = "host"
    run = staticmethod(_native.run)
    apply_sums = staticmethod(_native.apply_sums)
    validate = staticmethod(_native.validate)
    Plan = _native.Plan
    StalePlan = _native.StalePlan
    check_params = staticmethod(_native._core.check_params)
    zeros_like = staticmethod(np.zeros_like)
    empty_like = staticmethod(np.empty_like)
    full_like = staticmethod(np.full_like)

    #: the 8-bit blockwise optimizers' checks and step (functional.blockwise8)
    blockwise8_check = staticmethod(_native._core.blockwise8_check)
    blockwise8_step = staticmethod(_native._core.blockwise8_step)

    @staticmethod
    def is_array(x: object) -> bool:
        return isinstance(x, np.ndarray)

    @staticmethod
    def zeros(like: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """Zeros of any shape and dtype (state that is not shaped like its param)."""
        return np.zeros(shape, dtype)

    @staticmethod
    def reduce(kind: _native._core.Reduction, arrays: list[Any], scalar: float,
               others: list[Any] | None = None) -> float:
        """A multi-tensor reduction (enum fusedoptim._core.Reduction) as a float."""
        return _native._core.reduce(kind, arrays, scalar, None, others)

    @staticmethod
    def to_numpy(a: Any) -> np.ndarray:
        return np.array(a, copy=True)

    @staticmethod
    def from_numpy(arr: Any, like: np.ndarray, dtype: Any = None) -> np.ndarray:
        """arr as a new C-contiguous array of ``dtype`` (None: like's), rounded to nearest
        even where it narrows."""
        return np.array(arr, dtype=like.dtype if dtype is None else dtype, order="C", copy=True)


HOST = HostBackend()

# --------------------------------------------------------------------------- device
_module = None  # the loaded device module (fusedoptim._cuda), or the emulator in tests


def device_module():
    """fusedoptim._cuda, or RuntimeError saying how to build it."""
    global _module
    if _module is None:
        name = os.environ.get("FUSEDOPTIM_DEVICE_MODULE", "_cuda")
        if name not in ("_cuda", "_cuda_emulator"):
            raise RuntimeError(f"FUSEDOPTIM_DEVICE_MODULE={name!r}: expected _cuda or "
                               "_cuda_emulator")
        try:
            _module = importlib.import_module(f"fusedoptim.{name}")
        except ImportError as exc:
            raise RuntimeError(f"CUDA device arrays given, but this fusedoptim has no CUDA "
                               f"extension (fusedoptim.{name}: {exc}); {_BUILD_HINT}") from exc
    return _module


def set_device_module(module: ModuleType | None) -> None:
    """Use ``module`` for device steps (tests use fusedoptim._cuda_emulator); None resets."""
    global _module
    _module = module
    _DEVICE_BACKENDS.clear()


def cuda_info() -> dict:
    """What build_info() says of CUDA: whether the extension is built, its runtime and
    architectures, and the devices it sees."""
    try:
        mod = importlib.import_module("fusedoptim._cuda")
    except ImportError:
        return {"built": False, "hint": _BUILD_HINT}
    info = mod.device_info()
    devices = info["devices"]
    return {"built": True, "runtime_version": info["runtime_version"],
            "architectures": info["architectures"], "devices": devices,
            "device": devices[0]["name"] if devices else None,
            "compute_capability": devices[0]["compute_capability"] if devices else None,
            "error": info["error"]}


class _ArrayKind:
    """How to make arrays of one device-array type, next to a given param: CuPy's and
    PyTorch's own functions, or the array API namespace the type offers
    (``__array_namespace__``)."""

    def __init__(self, sample):
        self.type = type(sample)
        self.lib = self.type.__module__.split(".")[0]
        if self.lib == "cupy":
            import cupy as xp
        elif self.lib == "torch":
            import torch as xp
        elif hasattr(sample, "__array_namespace__"):
            xp = None
        else:
            raise TypeError(f"params: fusedoptim keeps optimizer state as arrays of the params' "
                            f"kind and cannot create {self.type.__name__} arrays; use CuPy arrays "
                            "(cupy.asarray(x) wraps any __cuda_array_interface__ array without "
                            "a copy)")
        self.xp = xp

    def _alloc(self, like, make):
        if self.lib == "cupy":
            with self.xp.cuda.Device(like.device.id):
                return make(self.xp, {})
        xp = self.xp if self.xp is not None else like.__array_namespace__()
        return make(xp, {"device": like.device})

    # ``dtype``: the state dtype when it is not the param's (None: the param's)
    def zeros_like(self, p, dtype=None):
        dt = p.dtype if dtype is None else dtype
        return self._alloc(p, lambda xp, kw: xp.zeros(p.shape, dtype=dt, **kw))

    def empty_like(self, p, dtype=None):
        dt = p.dtype if dtype is None else dtype
        return self._alloc(p, lambda xp, kw: xp.empty(p.shape, dtype=dt, **kw))

    def full_like(self, p, value, dtype=None):
        dt = p.dtype if dtype is None else dtype
        return self._alloc(p, lambda xp, kw: xp.full(p.shape, value, dtype=dt, **kw))

    def zeros(self, like, shape, dtype):
        """Zeros of any shape and (NumPy) dtype on like's device."""
        dt = np.dtype(dtype)
        return self._alloc(like, lambda xp, kw: xp.zeros(shape, dtype=_xp_dtype(xp, dt), **kw))

    def float64_zeros(self, like, n):
        """n float64 zeros on like's device (reduction partials)."""
        return self._alloc(like, lambda xp, kw: xp.zeros((n,), dtype=xp.float64, **kw))

    def from_numpy(self, arr, like, dtype=None):
        if dtype is None:
            dtype = np.dtype(str(like.dtype).removeprefix("torch."))
        host = np.array(arr, dtype=dtype, order="C", copy=True)  # keeps 0-d arrays 0-d
        return self._alloc(like, lambda xp, kw: xp.asarray(host, **kw))

    def stream(self) -> int:
        """The stream kernels go to: the array library's current stream (CuPy's, or
        PyTorch's on the current device); 0, the default stream, for other libraries."""
        if self.lib == "cupy":
            return self.xp.cuda.get_current_stream().ptr
        if self.lib == "torch":
            return self.xp.cuda.current_stream().cuda_stream
        return 0


def _xp_dtype(xp: Any, dtype: np.dtype) -> Any:
    """A NumPy dtype in an array library's terms (PyTorch has its own dtype objects)."""
    return getattr(xp, dtype.name) if getattr(xp, "__name__", "") == "torch" else dtype


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy copy of a host or device array (CuPy's and others' ``get()``, PyTorch's
    ``cpu()``)."""
    if isinstance(a, np.ndarray):
        return a.copy()
    if type(a).__module__.split(".")[0] == "torch":
        return a.detach().cpu().numpy().copy()
    get = getattr(a, "get", None)
    if get is None:
        raise TypeError(f"{type(a).__name__}: cannot copy this device array to the host (it has "
                        "no get()); use CuPy arrays")
    return np.array(get(), copy=True)


class DeviceBackend:
    """CUDA device arrays, the CUDA kernels (fusedoptim._cuda)."""

    name = "cuda"

    def __init__(self, sample):
        self.module = device_module()
        self.kind = _ArrayKind(sample)
        self.StalePlan = self.module.StalePlan
        self.check_params = self.module.check_params
        self.validate = self.module.validate
        self.zeros_like = self.kind.zeros_like
        self.empty_like = self.kind.empty_like
        self.full_like = self.kind.full_like
        self.from_numpy = self.kind.from_numpy
        self.zeros = self.kind.zeros
        self.to_numpy = to_numpy
        self.blockwise8_check = self.module.blockwise8_check
        stream, base = self.kind.stream, self.module.Plan

        class Plan(base):
            """The device plan, run on the array library's current stream."""

            def run(self, grads, scalars, grad_scale=1.0):
                _unscaled_only(grad_scale)
                base.run(self, grads, scalars, stream())

        self.Plan = Plan

    def run(self, works: list[Work], grad_scale: float = 1.0) -> None:
        _unscaled_only(grad_scale)
        self.module.run(works, self.kind.stream())

    def blockwise8_step(self, *args: Any, **kw: Any) -> None:
        """functional.blockwise8's step, enqueued on the array library's current stream."""
        self.module.blockwise8_step(*args, **kw, stream=self.kind.stream())

    def apply_sums(self, works: list[Work]) -> np.ndarray:
        """The step of works whose update also sums, and each tensor's sums (float64 host
        array (tensors, 2)): partials per chunk on the device, added in order on the host
        (waits for the stream)."""
        first = works[0][3][0][0]  # type: ignore[index]
        return self.module.apply_sums(works, lambda n: self.kind.float64_zeros(first, n),
                                      self.kind.stream())

    def reduce(self, kind: _native._core.Reduction, arrays: list[Any], scalar: float,
               others: list[Any] | None = None) -> float:
        """A multi-tensor reduction as a float: float64 partials per chunk on the device,
        added in order on the host (waits for the stream, as any value read must)."""
        return self.module.reduce(int(kind), arrays, scalar, None, others,
                                  lambda n: self.kind.float64_zeros(arrays[0], n),
                                  self.kind.stream())

    @staticmethod
    def is_array(x: object) -> bool:
        return is_device_array(x)


def _unscaled_only(grad_scale: float) -> None:
    """The CUDA kernels take unscaled grads: the optimizers give them unscaled copies
    (optim/base.py) and never a scale."""
    if grad_scale != 1.0:
        raise ValueError(f"grad_scale: the CUDA kernels take unscaled grads, got {grad_scale}")


_DEVICE_BACKENDS: dict = {}


def run(works: list[Work]) -> None:
    """Run works (functional.py) on the side of the first work's first list, the arrays
    it writes (the native checks name any array of the other side)."""
    first = works[0][3][0]
    (for_arrays(first) if isinstance(first, (list, tuple)) else HOST).run(works)


def for_arrays(arrays):
    """The backend of a list of arrays, from its first entry (the native checks reject
    any other array of the other side by name)."""
    first = next((a for a in arrays if a is not None), None)
    if first is None or not is_device_array(first):
        return HOST
    backend = _DEVICE_BACKENDS.get(type(first))
    if backend is None:
        backend = _DEVICE_BACKENDS[type(first)] = DeviceBackend(first)
    return backend
