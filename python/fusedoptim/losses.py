"""Losses with their gradients, for training in NumPy.

``softmax_cross_entropy`` runs natively (one pass over the logits, threads over
rows); ``mse`` is one NumPy expression, already a single pass. Their NumPy twins
are in :mod:`fusedoptim.reference.losses`.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from . import _native

_REDUCTIONS = ("mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected 'mean' or 'sum', got {reduction!r}")


def check_cross_entropy_inputs(logits: np.ndarray, targets: npt.ArrayLike,
                               reduction: str) -> tuple[np.ndarray, np.ndarray]:
    """Shared by the native and the reference implementation: returns (logits, targets)
    as C-contiguous arrays (labels as int64), or raises naming the problem."""
    _check_reduction(reduction)
    if not isinstance(logits, np.ndarray) or logits.dtype not in (np.float32, np.float64):
        raise TypeError("logits: expected a float32 or float64 numpy.ndarray, got "
                        f"{getattr(logits, 'dtype', type(logits).__name__)}")
    if logits.ndim != 2:
        raise ValueError(f"logits: expected shape (N, C), got {logits.shape}")
    n, c = logits.shape
    if n == 0:
        raise ValueError("logits: empty batch (N = 0)")
    if c == 0:
        raise ValueError("logits: no classes (C = 0)")
    targets = np.asarray(targets)
    if targets.ndim == 1:
        if targets.dtype.kind not in "iu":
            raise TypeError(f"targets: labels of shape (N,) must be integers, got {targets.dtype}")
        if targets.shape[0] != n:
            raise ValueError(f"targets: {targets.shape[0]} labels for {n} rows of logits")
        bad = np.flatnonzero((targets < 0) | (targets >= c))
        if bad.size:
            raise ValueError(f"targets: label {targets[bad[0]]} at index {bad[0]} is out of range "
                             f"[0, {c})")
        targets = np.ascontiguousarray(targets, dtype=np.int64)
    elif targets.ndim == 2:
        if targets.shape != logits.shape:
            raise ValueError(f"targets: probabilities of shape {targets.shape} do not match "
                             f"logits {logits.shape}")
        if targets.dtype.kind != "f":
            raise TypeError(f"targets: probabilities must be floats, got {targets.dtype}")
        targets = np.ascontiguousarray(targets, dtype=logits.dtype)
    else:
        raise ValueError(f"targets: expected labels (N,) or probabilities (N, C), got shape "
                         f"{targets.shape}")
    return np.ascontiguousarray(logits), targets


def softmax_cross_entropy(logits: np.ndarray, targets: npt.ArrayLike,
                          reduction: str = "mean") -> tuple[float, np.ndarray]:
    r"""Softmax cross-entropy and its gradient, ``(loss, dlogits)``.

    .. math::
        \ell_i = \log\sum_c e^{z_{ic}} \cdot \textstyle\sum_c y_{ic} - \sum_c y_{ic} z_{ic},
        \qquad \frac{\partial \ell_i}{\partial z_{ic}} = \mathrm{softmax}(z_i)_c \sum_k y_{ik}
        - y_{ic}

    ``targets``: integer labels of shape (N,) (y one-hot) or probabilities of shape
    (N, C). ``reduction``: "mean" (loss and gradient divided by N) or "sum". The
    log-sum-exp is shifted by each row's maximum, so logits of +-1e4 stay finite.
    float32 or float64; the loss is accumulated in float64 and returned as a float.
    """
    logits, targets = check_cross_entropy_inputs(logits, targets, reduction)
    scale = 1.0 / logits.shape[0] if reduction == "mean" else 1.0
    total, grad = _native._core.softmax_xent(logits, targets, scale)
    return total * scale, grad


def mse(pred: np.ndarray, target: npt.ArrayLike,
        reduction: str = "mean") -> tuple[float, np.ndarray]:
    r"""Squared error and its gradient, ``(loss, dpred)``: mean (or sum) over all elements
    of :math:`(p - t)^2`, gradient :math:`2 (p - t)` (divided by the element count for
    "mean")."""
    _check_reduction(reduction)
    if not isinstance(pred, np.ndarray) or pred.dtype not in (np.float32, np.float64):
        raise TypeError("pred: expected a float32 or float64 numpy.ndarray")
    target = np.asarray(target)
    if target.shape != pred.shape:
        raise ValueError(f"target: shape {target.shape} does not match pred {pred.shape}")
    if pred.size == 0:
        raise ValueError("pred: empty")
    diff = pred - target.astype(pred.dtype, copy=False)
    scale = 1.0 / pred.size if reduction == "mean" else 1.0
    loss = float(np.dot(diff.ravel(), diff.ravel())) * scale
    return loss, diff * pred.dtype.type(2 * scale)


__all__ = ["softmax_cross_entropy", "mse"]
