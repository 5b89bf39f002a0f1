"""The implementations a benchmark step is timed with, on copies of the same arrays.

Each factory takes (optimizer key, params, grads) and returns a zero-argument step
function, or None where the implementation does not exist (torch's fused
RMSprop, say). Every implementation works on its own copies.
"""
from __future__ import annotations

import numpy as np

import fusedoptim
from fusedoptim import _native

from .workloads import OPTIMIZERS

try:  # torch is optional: only to compare against
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


def _copies(arrays):
    return [a.copy() for a in arrays]


def native(key, params, grads):
    cls, kw, _ = OPTIMIZERS[key]
    ps, gs = _copies(params), _copies(grads)
    opt = getattr(fusedoptim, cls)(ps, **kw)
    return lambda: opt.step(gs)


def numpy_reference(key, params, grads):
    cls, kw, _ = OPTIMIZERS[key]
    ps, gs = _copies(params), _copies(grads)
    opt = getattr(fusedoptim.reference, cls)(ps, **kw)
    return lambda: opt.step(gs)


def _torch(mode):
    def factory(key, params, grads):
        if torch is None:
            return None
        cls, kw, _ = OPTIMIZERS[key]
        tps = [torch.from_numpy(p.copy()).requires_grad_() for p in params]
        for tp, g in zip(tps, grads):
            tp.grad = torch.from_numpy(g.copy())
        try:
            opt = getattr(torch.optim, cls)(tps, **kw, **{mode: True} if mode else {"foreach": False})
        except (TypeError, RuntimeError, ValueError):
            return None  # e.g. no fused RMSprop in torch
        return opt.step
    return factory


def roofline(key, params, grads):
    """Same traffic as the optimizer's step: reads and writes the same arrays, same engine."""
    buffers = OPTIMIZERS[key][2]
    ps, gs = _copies(params), _copies(grads)
    states = [[np.zeros_like(p) for p in ps] for _ in range(buffers)]
    spec = _native.SPECS["traffic"]
    flags = sum(spec["flags"][f"state{k + 1}"] for k in range(buffers))
    operands = [ps, gs] + states + [None] * (3 - buffers)
    plan = _native.Plan([(spec["id"], flags, (0.0,), operands, None)])
    scalars = [(0.0,)]
    return lambda: plan.run(gs, scalars)


def triad(key, params, grads):
    """a = b + s*c over arrays of the params' sizes: the classic bandwidth kernel."""
    a, b, c = _copies(params), _copies(grads), _copies(params)
    spec = _native.SPECS["triad"]
    plan = _native.Plan([(spec["id"], 0, (0.5,), [a, b, c], None)])
    scalars = [(0.5,)]
    return lambda: plan.run(b, scalars)


#: name -> factory, in the order they are reported
IMPLEMENTATIONS = {
    "fusedoptim": native,
    "numpy": numpy_reference,
    "torch": _torch(None),
    "torch-foreach": _torch("foreach"),
    "torch-fused": _torch("fused"),
    "roofline": roofline,
    "triad": triad,
}


def set_threads(n: int) -> None:
    fusedoptim.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
