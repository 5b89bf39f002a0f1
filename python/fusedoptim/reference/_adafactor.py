"""NumPy twin of :func:`fusedoptim.functional.adafactor`, written line by line from
torch.optim.Adafactor's single-tensor step (one param at a time, NumPy temporaries)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _native
from .. import functional as F
from .._typing import Names
from ._fma import fma


def _lerp(start: np.ndarray, end: np.ndarray, weight: Any) -> np.ndarray:
    """torch.lerp: start + w (end - start) for |w| < 0.5, else end - (end - start)(1 - w),
    in the arrays' dtype, the multiply-add rounded once as torch's CPU kernels do."""
    one = start.dtype.type(1)
    if abs(weight) < 0.5:
        return fma(weight, end - start, start)
    return fma(-(end - start), one - weight, end)


def adafactor(params: Sequence[np.ndarray], grads: Sequence[np.ndarray],
              row_vars: Sequence[Any], col_vars: Sequence[Any], variances: Sequence[Any],
              step: int, *, lr: float = 1e-2, beta2_decay: float = -0.8,
              eps1: float | None = None, eps2: float = 1e-3, d: float = 1.0,
              weight_decay: float = 0.0, maximize: bool = False, names: Names = None) -> None:
    _native.validate([F.adafactor_work(params, grads, row_vars, col_vars, variances, step, lr=lr,
                                       beta2_decay=beta2_decay, eps1=eps1, eps2=eps2, d=d,
                                       weight_decay=weight_decay, maximize=maximize,
                                       names=names)])
    t = float(step)
    one_minus_beta2 = t ** beta2_decay
    rho = min(lr, 1 / t ** 0.5)
    for p, g, row, col, var in zip(params, grads, row_vars, col_vars, variances):
        if p.size == 0:
            continue
        T = p.dtype.type
        e1 = np.finfo(p.dtype).eps if eps1 is None else eps1
        g = -g if maximize else g
        w = T(one_minus_beta2)
        root_n = math.sqrt(p.size)
        norm = math.sqrt(float(np.sum(p.astype(np.float64) ** 2)))
        alpha = max(eps2, norm / root_n) * rho
        if weight_decay != 0:
            p *= T(1 - lr * weight_decay)
        if p.ndim >= 2:
            g64 = g.astype(np.float64) ** 2
            row[...] = _lerp(row, np.mean(g64, axis=-1, keepdims=True).astype(p.dtype), w)
            col[...] = _lerp(col, np.mean(g64, axis=-2, keepdims=True).astype(p.dtype), w)
            row_mean = np.maximum(np.mean(row.astype(np.float64), axis=-2, keepdims=True)
                                  .astype(p.dtype), T(e1))
            var_estimate = row * col / row_mean
        else:
            var[...] = _lerp(var, g * g, w)
            var_estimate = var.copy()
        update = (T(1) / np.sqrt(np.maximum(var_estimate, T(e1 * e1)))) * g
        u_norm = math.sqrt(float(np.sum(update.astype(np.float64) ** 2)))
        denom = max(1.0, u_norm / (root_n * d))
        p += T(-alpha / denom) * update
