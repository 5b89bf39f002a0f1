"""The device columns of the tests: the CUDA kernels on a real GPU (CuPy arrays;
skipped without a CUDA build, a GPU or CuPy), and their host emulation (always:
fusedoptim._cuda_emulator runs the CUDA kernel body on the CPU over FakeDeviceArray,
host memory dressed as device arrays), so the device code path is checked on every
machine."""
from __future__ import annotations

import importlib
import types

import numpy as np
import pytest

from fusedoptim import _backends


class _Device:
    def __init__(self, i):
        self.id = i

    def __eq__(self, other):
        return isinstance(other, _Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)


class FakeDeviceArray:
    """Host memory behind a __cuda_array_interface__, with CuPy's ``device.id`` and
    ``get()`` and a small array API namespace to allocate more of its kind, and the
    arithmetic and matrix products Muon's Newton-Schulz iteration asks of the array library."""

    def __init__(self, host: np.ndarray, device: int = 0, readonly: bool = False):
        self.host = host
        self.device = _Device(device)
        self.readonly = readonly

    shape = property(lambda self: self.host.shape)
    dtype = property(lambda self: self.host.dtype)
    size = property(lambda self: self.host.size)

    @property
    def __cuda_array_interface__(self):
        a = self.host
        return {"version": 3, "shape": a.shape, "typestr": a.dtype.str,
                "data": (a.ctypes.data, self.readonly),
                "strides": None if a.flags.c_contiguous else a.strides, "stream": None}

    def get(self):
        return self.host.copy()

    def __getitem__(self, index):
        return FakeDeviceArray(self.host[index], self.device.id, self.readonly)

    def __array_namespace__(self):
        return FAKE_NAMESPACE

    # Muon's iteration: products, in-place arithmetic, a comparison and a masked store.
    def __mul__(self, other):
        return _wrap(self.host * _host(other), self)

    def __truediv__(self, other):  # grads unscaled into copies (step(grad_scale=3.0))
        return _wrap(self.host / _host(other), self)

    def __lt__(self, other):
        return _wrap(self.host < _host(other), self)

    def __setitem__(self, index, value):
        self.host[_host(index)] = _host(value)

    def __imul__(self, other):
        self.host *= _host(other)
        return self

    def __iadd__(self, other):
        self.host += _host(other)
        return self

    def __itruediv__(self, other):
        self.host /= _host(other)
        return self


def _host(x):
    return x.host if isinstance(x, FakeDeviceArray) else x


def _wrap(a, like):
    return FakeDeviceArray(np.asarray(a), like.device.id)


def _on(device):
    return device.id if device is not None else 0


FAKE_NAMESPACE = types.SimpleNamespace(
    zeros=lambda shape, dtype=None, device=None: FakeDeviceArray(np.zeros(shape, dtype), _on(device)),
    empty=lambda shape, dtype=None, device=None: FakeDeviceArray(np.empty(shape, dtype), _on(device)),
    full=lambda shape, v, dtype=None, device=None: FakeDeviceArray(np.full(shape, v, dtype),
                                                                   _on(device)),
    asarray=lambda x, device=None: FakeDeviceArray(np.array(x, copy=True), _on(device)),
    float64=np.float64,
    matmul=lambda a, b: _wrap(np.matmul(a.host, b.host), a),
    stack=lambda xs: _wrap(np.stack([x.host for x in xs]), xs[0]),
    swapaxes=lambda a, i, j: FakeDeviceArray(np.swapaxes(a.host, i, j), a.device.id),
    sum=lambda a, axis=None: _wrap(np.sum(a.host, axis=axis), a),
    sqrt=lambda a: _wrap(np.sqrt(a.host), a),
)


def _cuda_ready():
    try:
        cuda = importlib.import_module("fusedoptim._cuda")
    except ImportError:
        return None, "fusedoptim was built without CUDA (-Ccmake.define.FUSEDOPTIM_CUDA=ON)"
    info = cuda.device_info()
    if not info["devices"]:
        return None, f"no CUDA device ({info['error']})"
    try:
        import cupy
    except ImportError:
        return None, "CuPy is not installed (pip install fusedoptim[cuda])"
    return cupy, None


class Column:
    """How one column makes device arrays and reads them back."""

    def __init__(self, name):
        self.name = name

    def setup(self):
        if self.name == "emulated":
            _backends.set_device_module(importlib.import_module("fusedoptim._cuda_emulator"))
            self.xp = None
        else:
            cupy, why = _cuda_ready()
            if cupy is None:
                pytest.skip(why)
            _backends.set_device_module(importlib.import_module("fusedoptim._cuda"))
            self.xp = cupy

    def device(self, a: np.ndarray, device: int = 0, offset: int = 0):
        """A device copy of a; ``offset`` > 0 places it that many elements into a larger
        buffer (C-contiguous, but not aligned for vector access)."""
        a = np.asarray(a)
        if self.xp is None:
            buf = np.empty(a.size + offset, a.dtype)
            view = buf[offset:].reshape(a.shape)
            view[...] = a
            return FakeDeviceArray(view, device)
        with self.xp.cuda.Device(device):
            buf = self.xp.empty(a.size + offset, a.dtype)
            view = buf[offset:].reshape(a.shape)
            view[...] = self.xp.asarray(a)
            return view

    def host(self, a) -> np.ndarray:
        if self.xp is not None:
            self.xp.cuda.get_current_stream().synchronize()
        return np.array(a.get(), copy=True)

    def devices(self) -> int:
        return 2 if self.xp is None else self.xp.cuda.runtime.getDeviceCount()


def cpu_gpu_cpu(column, make, init, grads, entry):
    """An optimizer (``make(params)``) run over all grads on the CPU, and the same run in
    thirds: on the CPU, on the device (loaded from the CPU's state_dict; its state entry
    ``entry`` a device array), on the CPU again (loaded from the device's state_dict, which
    holds NumPy copies). Returns (straight optimizer, its params, the last optimizer, its
    params)."""
    straight_params = [p.copy() for p in init]
    straight = make(straight_params)
    for g in grads:
        straight.step(g)
    third = len(grads) // 3
    params = [p.copy() for p in init]
    opt = make(params)
    for g in grads[:third]:
        opt.step(g)
    dev_params = [column.device(p) for p in params]
    dev = make(dev_params)
    dev.load_state_dict(opt.state_dict())
    assert type(dev.state[0][entry]) is type(dev_params[0])
    for g in grads[third:2 * third]:
        dev.step([column.device(x) for x in g])
    sd = dev.state_dict()
    assert all(isinstance(v, np.ndarray) for s in sd["state"].values() for k, v in s.items()
               if k != "step"), "state_dict must hold NumPy copies"
    back = [column.host(p) for p in dev_params]
    last = make(back)
    last.load_state_dict(sd)
    for g in grads[2 * third:]:
        last.step(g)
    return straight, straight_params, last, back
