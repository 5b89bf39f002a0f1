"""NumPy twin of fusedoptim.functional.muon, written from torch.optim.Muon's formula, one
matrix at a time (no batching, no fused passes)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _native
from .. import functional as F
from .._typing import Names
from ._fma import fma
from ._half import opmath


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp with a scalar weight, in the arrays' dtype: the weight is cast first and
    1 - weight computed in that dtype (ATen's Lerp.h)."""
    w = start.dtype.type(weight)
    if abs(w) < 0.5:
        return fma(w, end - start, start)
    return fma(-(end - start), start.dtype.type(1) - w, end)


def _newton_schulz(g: np.ndarray, coefficients: Sequence[float], steps: int,
                   eps: float) -> np.ndarray:
    """torch's _zeropower_via_newtonschulz, kept in g's dtype (torch casts to bfloat16)."""
    a, b, c = (g.dtype.type(x) for x in coefficients)
    x = g.T if g.shape[0] > g.shape[1] else g
    x = x / max(np.sqrt(np.sum(x * x)), g.dtype.type(eps))
    for _ in range(steps):
        gram = x @ x.T
        update = b * gram + c * (gram @ gram)
        x = a * x + update @ x
    return x.T if g.shape[0] > g.shape[1] else x


@opmath
def muon(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
         momentum_buffers: Sequence[np.ndarray], *, lr: float = 1e-3, weight_decay: float = 0.1,
         momentum: float = 0.95, nesterov: bool = True,
         ns_coefficients: Sequence[float] = (3.4445, -4.775, 2.0315), eps: float = 1e-7,
         ns_steps: int = 5, adjust_lr_fn: str | None = None, names: Names = None) -> Any:
    _native.validate([F.muon_work(params, grads, momentum_buffers, lr=lr,
                                  weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                  ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                  adjust_lr_fn=adjust_lr_fn, names=names)])
    for p, g, buf in zip(params, grads, momentum_buffers):
        buf[...] = _lerp(buf, g, 1 - momentum)
        update = _lerp(g, buf, momentum) if nesterov else buf
        o = _newton_schulz(update, ns_coefficients, ns_steps, eps)
        rows, cols = p.shape
        if adjust_lr_fn == "match_rms_adamw":
            ratio = 0.2 * math.sqrt(max(rows, cols))
        else:
            ratio = math.sqrt(max(1, rows / cols))
        p *= p.dtype.type(1 - lr * weight_decay)
        p -= p.dtype.type(lr * ratio) * o
