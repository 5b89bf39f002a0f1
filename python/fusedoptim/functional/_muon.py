"""Muon (torch.optim.Muon): momentum, then a Newton-Schulz orthogonalisation of each
matrix's update, then decoupled weight decay and the step.

Three passes: the momentum buffers and Nesterov's update (native, one elementwise call
for all params), the Newton-Schulz iteration (matrix products of the array library:
NumPy's BLAS on the host, CuPy's on a GPU; params of one shape batched into one
stacked product), and the decay and step (native, one elementwise call, one launch per
distinct adjusted lr).
"""
from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _backends
from .. import _checks as C
from .._typing import Array, ArrayList, Names, Work
from ._kernel import ID, backend, flags, kernel_scalars, passes_of, scalar_packer

_pack = scalar_packer("muon")
_pack_update = scalar_packer("muon_update")
passes_of("muon", "muon", "muon_update")

#: KellerJordan's quintic coefficients (a, b, c), torch's defaults
NS_COEFFICIENTS = (3.4445, -4.775, 2.0315)
ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


@kernel_scalars("muon", by_step=False)
def muon_scalars(step: int | None, momentum: float, **_: Any) -> tuple[float, ...]:
    return _pack(momentum=momentum)


@kernel_scalars("muon_update", by_step=False)
def muon_update_scalars(step: int | None, lr: float, weight_decay: float, adjusted_lr: float,
                        **_: Any) -> tuple[float, ...]:
    return _pack_update(lr=lr, weight_decay=weight_decay, adjusted_lr=adjusted_lr)


def adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: Sequence[int]) -> float:
    """torch's per-matrix lr of an (A, B) param: lr sqrt(max(1, A/B)) ("original", the
    default) or 0.2 lr sqrt(max(A, B)) ("match_rms_adamw", the update's RMS of AdamW's)."""
    a, b = shape[0], shape[1]
    if adjust_lr_fn == "match_rms_adamw":
        return lr * (0.2 * math.sqrt(max(a, b)))
    return lr * math.sqrt(max(1, a / b))


def muon_hparams(lr: Any, weight_decay: Any, momentum: Any, nesterov: Any, ns_coefficients: Any,
                 eps: Any, ns_steps: Any, adjust_lr_fn: Any) -> dict[str, Any]:
    """Muon's hyperparameters checked (each error names its keyword), as the update uses them."""
    lr = C.nonneg("lr", lr)
    weight_decay = C.nonneg("weight_decay", weight_decay)
    C.decoupled_decay(lr, weight_decay)
    momentum = C.nonneg("momentum", momentum)
    nesterov = C.flag("nesterov", nesterov)
    if not isinstance(ns_coefficients, (tuple, list)) or len(ns_coefficients) != 3:
        raise TypeError(f"ns_coefficients: expected a tuple (a, b, c) of 3 real numbers, got "
                        f"{ns_coefficients!r}")
    coeffs = tuple(C.real(f"ns_coefficients[{i}]", c) for i, c in enumerate(ns_coefficients))
    eps = C.real("eps", eps)
    if not eps > 0:
        raise ValueError(f"eps: must be > 0, got {eps!r}")
    if isinstance(ns_steps, bool) or not isinstance(ns_steps, numbers.Integral):
        raise TypeError(f"ns_steps: expected an int in [1, 100), got {ns_steps!r}")
    if not 1 <= int(ns_steps) < 100:
        raise ValueError(f"ns_steps: must be in [1, 100), got {ns_steps!r}")
    if adjust_lr_fn not in ADJUST_LR_FNS:
        raise ValueError(f"adjust_lr_fn: expected None, 'original' or 'match_rms_adamw', got "
                         f"{adjust_lr_fn!r}")
    return dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                ns_coefficients=coeffs, eps=eps, ns_steps=int(ns_steps), adjust_lr_fn=adjust_lr_fn)


def check_matrices(params: ArrayList, names: Names = None) -> None:
    """ValueError naming the first param that is not a matrix (anything without a shape is
    left to the native checks, which name it)."""
    for i, p in enumerate(params):
        shape = getattr(p, "shape", None)
        if shape is not None and len(shape) != 2:
            name = names[i] if names is not None else str(i)
            raise ValueError(
                f"params[{name}]: Muon updates 2-D matrices only, got shape {tuple(shape)}; give "
                "1-D and 3-D+ params (biases, norms, embeddings, heads, conv filters unless "
                "reshaped to 2-D) to another optimizer such as AdamW")


def muon_work(params: ArrayList, grads: ArrayList, momentum_buffers: ArrayList, *,
              lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95,
              nesterov: bool = True, ns_coefficients: Sequence[float] = NS_COEFFICIENTS,
              eps: float = 1e-7, ns_steps: int = 5, adjust_lr_fn: str | None = None,
              names: Names = None, updates: ArrayList | None = None) -> Work:
    """Muon's first pass (momentum; with ``updates``, Nesterov's update written there).
    Without ``updates`` it names every array the step reads or writes (params, grads,
    buffers): the step's checks run on it before anything changes."""
    h = muon_hparams(lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps,
                     adjust_lr_fn)
    check_matrices(params, names)
    write = h["nesterov"] and updates is not None
    return (ID["muon"], flags("muon", nesterov=write), muon_scalars(None, momentum=h["momentum"]),
            (params, grads, momentum_buffers, updates if write else None), names)


def _namespace(a: Any) -> Any:
    """The array library of ``a``: NumPy, CuPy, PyTorch, or the array's own namespace."""
    if isinstance(a, np.ndarray):
        return np
    lib = type(a).__module__.split(".")[0]
    if lib in ("cupy", "torch"):
        import importlib
        return importlib.import_module(lib)
    return a.__array_namespace__()


def newton_schulz(xp: Any, x: Any, coefficients: Sequence[float], steps: int, eps: float,
                  tall: bool) -> Any:
    """torch's _zeropower_via_newtonschulz on a stack ``x`` of k matrices (k, A, B), in x's
    dtype, overwriting x; returns the stack O. ``tall`` (A > B): torch iterates on
    X = x^T; this runs the same products on x itself, contiguous, never transposed:
    X X^T = x^T x and (B X)^T = x B^T.
    """
    a, b, c = coefficients
    t = lambda m: xp.swapaxes(m, -1, -2)  # noqa: E731 - a view, BLAS takes it as it is
    norms = xp.sqrt(xp.sum(x * x, axis=(-2, -1)))
    norms[norms < eps] = eps  # clamp(min=eps): a zero update stays zero
    x /= norms[:, None, None]
    for _ in range(steps):
        gram = xp.matmul(t(x), x) if tall else xp.matmul(x, t(x))  # A = X X^T (BLAS syrk)
        # A A = A A^T (A is symmetric): written so, NumPy computes it by syrk as well, half
        # the multiplications of a general product.
        poly = xp.matmul(gram, t(gram))
        poly *= c
        gram *= b
        poly += gram                                               # B = b A + c A A
        bx = xp.matmul(x, t(poly)) if tall else xp.matmul(poly, x)  # B X
        x *= a
        x += bx                                                    # X = a X + B X
    return x


#: matrices of up to this many values are batched with the others of their shape: a
#: stacked product saves the per-call overhead that dominates small ones (50 32x32: 3.5x
#: faster stacked, 8 64x64: 1.6x, at one thread), while for larger ones it gained
#: nothing (4 128x1152, 12 768x768: within noise, sometimes slower at two threads)
BATCH_MAX_VALUES = 128 * 128


def _by_shape(params: Sequence[Any]) -> dict[tuple[Any, ...], list[int]]:
    """Indices of the params by (dtype, shape) for small matrices, alone for large ones:
    each bucket's updates are one stack (key[1] is the shape)."""
    buckets: dict[tuple[Any, ...], list[int]] = {}
    for i, p in enumerate(params):
        shape = tuple(p.shape)
        alone = i if shape[0] * shape[1] > BATCH_MAX_VALUES else -1
        buckets.setdefault((str(p.dtype), shape, alone), []).append(i)
    return buckets


def muon(params: ArrayList, grads: ArrayList, momentum_buffers: ArrayList, *, lr: float = 1e-3,
         weight_decay: float = 0.1, momentum: float = 0.95, nesterov: bool = True,
         ns_coefficients: Sequence[float] = NS_COEFFICIENTS, eps: float = 1e-7,
         ns_steps: int = 5, adjust_lr_fn: str | None = None, names: Names = None) -> None:
    r"""Muon, as torch.optim.Muon, on 2-D params (matrices) only. ``momentum_buffers``
    start at zero.

    .. math::
        B &\leftarrow \operatorname{lerp}(B, G, 1-\mu), \qquad
        U = \operatorname{lerp}(G, B, \mu) \text{ (nesterov) else } B \\
        O &= \mathrm{NS}^{(a,b,c)}_k(U), \qquad
        \theta \leftarrow \theta (1 - \eta\lambda) - \eta' O

    NS: transpose a tall U, divide by max(||U||_F, eps), then k times
    :math:`A = X X^T,\ X \leftarrow a X + (b A + c A A) X`. :math:`\eta'` is the
    adjusted lr, per matrix of shape (A, B): :math:`\eta\sqrt{\max(1, A/B)}` (None,
    "original") or :math:`0.2\eta\sqrt{\max(A, B)}` ("match_rms_adamw").

    The iteration runs in the params' dtype (float32 or float64) by the array library's
    matmul; torch's and KellerJordan's reference implementations run it in bfloat16.
    """
    h = muon_hparams(lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps,
                     adjust_lr_fn)
    be = backend(params)
    be.validate([muon_work(params, grads, momentum_buffers, names=names, **h)])
    if not params:
        return
    xp = _namespace(params[0])
    buckets = _by_shape(params)
    stacks: dict[tuple[Any, ...], Any] = {}
    updates: list[Any] = [None] * len(params)
    if h["nesterov"]:
        for key, idx in buckets.items():
            stacks[key] = _empty(be, params[idx[0]], (len(idx),) + key[1])
            for j, i in enumerate(idx):
                updates[i] = stacks[key][j]
    be.run([muon_work(params, grads, momentum_buffers, names=names,
                      updates=updates if h["nesterov"] else None, **h)])
    orthos: list[Any] = [None] * len(params)
    # CuPy allocates the products' temporaries on its current device: the params' one.
    first: Any = params[0]
    on_device = (xp.cuda.Device(first.device.id) if getattr(xp, "__name__", "") == "cupy"
                 else contextlib.nullcontext())
    with on_device:
        for key, idx in buckets.items():
            x = stacks[key] if h["nesterov"] else xp.stack([momentum_buffers[i] for i in idx])
            rows, cols = key[1]
            o = newton_schulz(xp, x, h["ns_coefficients"], h["ns_steps"], h["eps"], rows > cols)
            for j, i in enumerate(idx):
                orthos[i] = o[j]
    be.run(_update_works(params, orthos, h, names))


def _empty(be: Any, like: Any, shape: tuple[int, ...]) -> Any:
    """An uninitialised array of like's kind, dtype and device."""
    if be is _backends.HOST:
        return np.empty(shape, like.dtype)
    return be.kind._alloc(like, lambda xp, kw: xp.empty(shape, dtype=like.dtype, **kw))


def _update_works(params: Sequence[Any], orthos: Sequence[Array], h: dict[str, Any],
                  names: Names) -> list[Work]:
    """The last pass: p <- p (1 - lr wd) - adjusted_lr O, one work per adjusted lr."""
    by_lr: dict[float, list[int]] = {}
    for i, p in enumerate(params):
        by_lr.setdefault(adjusted_lr(h["lr"], h["adjust_lr_fn"], p.shape), []).append(i)
    f = flags("muon_update", weight_decay=h["weight_decay"] != 0)
    works: list[Work] = []
    for alr, idx in by_lr.items():
        scalars = muon_update_scalars(None, lr=h["lr"], weight_decay=h["weight_decay"],
                                      adjusted_lr=alr)
        works.append((ID["muon_update"], f, scalars, ([params[i] for i in idx],
                                                      [orthos[i] for i in idx]),
                      None if names is None else [names[i] for i in idx]))
    return works
