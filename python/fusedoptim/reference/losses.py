"""NumPy twins of :mod:`fusedoptim.losses`, written from the formulas."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..losses import check_cross_entropy_inputs, mse  # noqa: F401  (mse is NumPy already)


def softmax_cross_entropy(logits: np.ndarray, targets: npt.ArrayLike,
                          reduction: str = "mean") -> tuple[float, np.ndarray]:
    logits, targets = check_cross_entropy_inputs(logits, targets, reduction)
    z = logits.astype(np.float64)
    n, c = z.shape
    y = np.zeros_like(z)
    if targets.ndim == 1:
        y[np.arange(n), targets] = 1.0
    else:
        y = targets.astype(np.float64)
    shifted = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(shifted).sum(axis=1, keepdims=True)) + z.max(axis=1, keepdims=True)
    softmax = np.exp(z - lse)
    loss = float(np.sum(lse[:, 0] * y.sum(axis=1) - (y * z).sum(axis=1)))
    grad = softmax * y.sum(axis=1, keepdims=True) - y
    scale = 1.0 / n if reduction == "mean" else 1.0
    return loss * scale, (grad * scale).astype(logits.dtype)
