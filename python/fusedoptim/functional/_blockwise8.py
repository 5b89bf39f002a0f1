"""8-bit blockwise optimizer state (Dettmers et al. 2022, "8-bit Optimizers via Block-wise
Quantization"), in bitsandbytes' format and with its CPU arithmetic: Adam, momentum SGD
and Lion whose moments are kept as one uint8 code per value and one float32 absmax per
block of 256 values. One native pass per block (see :func:`blockwise8`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from .. import _checks as C
from .._typing import ArrayList, Names, Work
from ._adafactor import adafactor_scalars
from ._kernel import ID, backend

BLOCK = 256
"""Elements per quantization block (bitsandbytes' optimizers fix it at 256)."""

MIN_8BIT_SIZE = 4096
"""bitsandbytes' default ``min_8bit_size``: tensors with fewer elements keep float32 state."""

#: the update rules, by bitsandbytes' names for them
KINDS = ("adam", "momentum", "lion")

#: a list of optional state arrays, one entry per param (None where it keeps no such buffer)
OptArrays = Optional[Sequence[Optional[Any]]]


def blockwise8_hparams(kind: Any, lr: Any, beta1: Any, beta2: Any, eps: Any, weight_decay: Any,
                       momentum: Any) -> dict[str, Any]:
    """The checked hyperparameters of one rule, each error naming its keyword."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    h: dict[str, Any] = dict(lr=C.nonneg("lr", lr), weight_decay=C.nonneg("weight_decay",
                                                                          weight_decay))
    if kind == "momentum":
        momentum = C.nonneg("momentum", momentum)
        if momentum == 0.0:
            raise NotImplementedError("momentum: SGD8bit needs momentum > 0 (bitsandbytes: "
                                      "SGD without momentum is not supported)")
        h["momentum"] = momentum
        return h
    h["beta1"] = C.in_unit_interval("beta1", beta1)
    h["beta2"] = C.in_unit_interval("beta2", beta2)
    if kind == "adam":
        h["eps"] = C.nonneg("eps", eps)
    return h


def blockwise8_work(kind: str, params: ArrayList, grads: ArrayList, state1s: ArrayList,
                    state2s: OptArrays, absmax1s: Sequence[Optional[Any]], absmax2s: OptArrays, qmap1: Any,
                    qmap2: Any, step: int, *, lr: float, beta1: float = 0.0, beta2: float = 0.0,
                    eps: float = 0.0, weight_decay: float = 0.0, momentum: float = 0.0,
                    names: Names = None) -> Work:
    """Checks everything a step touches (hyperparameters, every array, the state's dtypes
    and sizes) and changes nothing. The work it returns names the params and grads only,
    for the checks across the calls of one step (the shape of Adafactor's work, the
    other optimizer whose state the elementwise engine does not describe)."""
    blockwise8_hparams(kind, lr, beta1, beta2, eps, weight_decay, momentum)
    C.step_count("step", step)
    backend(params).blockwise8_check(kind, params, grads, state1s, state2s, absmax1s, absmax2s,
                                     qmap1, qmap2, names)
    return (ID["adafactor"], 0,
            adafactor_scalars(1, lr=0.0, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0,
                              weight_decay=0.0),
            (params, grads), names)


def blockwise8(kind: str, params: ArrayList, grads: ArrayList, state1s: ArrayList,
               state2s: OptArrays, absmax1s: Sequence[Optional[Any]], absmax2s: OptArrays, qmap1: Any,
               qmap2: Any, step: int, *, lr: float, beta1: float = 0.0, beta2: float = 0.0,
               eps: float = 0.0, weight_decay: float = 0.0, momentum: float = 0.0,
               names: Names = None) -> None:
    r"""One step of bitsandbytes' CPU optimizer ``kind`` ("adam", "momentum", "lion"),
    step number ``step`` (>= 1) for every param, in place.

    float32 params and grads. Per param, ``state1s[i].dtype`` picks the path:

    - **uint8 (8-bit state)**: ``state1s[i]`` (and for "adam" ``state2s[i]``) hold one code
      per value; ``absmax1s[i]`` (``absmax2s[i]``) one float32 per block of 256 values; a
      moment's value is ``qmap[code] * absmax[i // 256]``, ``qmap1`` the signed dynamic map,
      ``qmap2`` the unsigned one (Adam's second moment). Each block of 256 is dequantized,
      updated, and requantized in the same pass: new ``absmax = max |x|`` over the block,
      ``code = lut[trunc((clamp(x / absmax, -1, 1) + 1) / 2 * 65535 + 1/2)]`` with
      bitsandbytes' 65536-entry table of nearest codes. A block whose absmax is 0, inf or
      NaN gets codes 0.
    - **float32 (32-bit state)**: the moments as float32 arrays (bitsandbytes keeps tensors
      below ``min_8bit_size`` this way); the absmax entries are None.

    The rules (float32 arithmetic, each operation rounded once; ``c_1 = 1 - \beta_1^t``,
    ``c_2 = \sqrt{1 - \beta_2^t}``; decay ``p \leftarrow p (1 - \eta\lambda)`` only for
    :math:`\lambda > 0`):

    .. math::
        \text{adam, 8-bit:}\quad & m \leftarrow \beta_1 m + (1-\beta_1) g,\;
            v \leftarrow \beta_2 v + (1-\beta_2) g^2,\;
            p \leftarrow p (1-\eta\lambda) - \frac{\eta}{c_1}\,
            \frac{m}{\sqrt{v}/c_2 + \epsilon} \\
        \text{adam, 32-bit:}\quad & \text{the same moments},\;
            p \leftarrow p (1-\eta\lambda) - \frac{\eta c_2}{c_1}\,
            \frac{m}{\sqrt{v} + \epsilon c_2} \\
        \text{momentum:}\quad & g \leftarrow g + \lambda p,\;
            b \leftarrow g \;(t = 1),\; b \leftarrow \mu b + g \;(t > 1),\;
            p \leftarrow p - \eta b \\
        \text{lion:}\quad & p \leftarrow p (1-\eta\lambda)
            - \eta\,\mathrm{sign}(\beta_1 m + (1-\beta_1) g),\;
            m \leftarrow \beta_2 m + (1-\beta_2) g

    (bitsandbytes' own CPU formulas: Adam's weight decay is decoupled, as AdamW's; the
    8-bit and 32-bit Adam place eps differently, as bitsandbytes does). The result is the
    same, bit for bit, for any thread count and on every SIMD path, and equals the NumPy
    twin (:mod:`fusedoptim.reference`).

    CUDA device arrays (all on one device) run the CUDA kernel, enqueued on the array
    library's current stream: the same arithmetic and codes, bit for bit (checked on the
    host emulation of the kernel), except that a NaN a step computes has the GPU's bits.
    The maps are read on the device only: their values are not checked there (on the host
    they must be sorted); the kernel builds its bins by the host table's rule.
    """
    work = blockwise8_work(kind, params, grads, state1s, state2s, absmax1s, absmax2s, qmap1,
                           qmap2, step, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                           weight_decay=weight_decay, momentum=momentum, names=names)
    del work
    backend(params).blockwise8_step(kind, params, grads, state1s, state2s, absmax1s, absmax2s,
                                    qmap1, qmap2, names, lr=lr, beta1=beta1, beta2=beta2,
                                    eps=eps, weight_decay=weight_decay, momentum=momentum,
                                    step=int(step))
