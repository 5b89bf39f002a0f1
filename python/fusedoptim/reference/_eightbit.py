"""NumPy twin of bitsandbytes' 8-bit blockwise optimizer state (Dettmers et al., "8-bit
Optimizers via Block-wise Quantization"), matched to what bitsandbytes 0.50.2 does on CPU.

The state of an 8-bit optimizer is, per moment, one uint8 code per element, one float32
``absmax`` per block of ``BLOCK = 256`` elements, and a 256-entry float32 map (the "dynamic"
data type): the value of element ``i`` is ``qmap[code[i]] * absmax[i // 256]``.

One optimizer step over a tensor, in bitsandbytes' order:

1. dequantize each moment: ``s = qmap[code] * absmax[block]`` (float32);
2. the 32-bit update of the moments and of the parameter (float32, the formulas of each
   ``*_step`` function below);
3. write the parameter;
4. requantize each moment: a new ``absmax = max |s|`` per block, new codes.

Tensors with fewer than ``MIN_8BIT_SIZE = 4096`` elements keep float32 moments
(:func:`uses_8bit_state`), updated by bitsandbytes' 32-bit CPU formulas (the ``*32_step``
functions), which are not the 8-bit path's formulas for Adam.

Every float32 operation is done in float32 with the rounding of the torch CPU kernel that
bitsandbytes calls: a scalar is first cast to float32 (``np.float32(1.0 - beta1)`` with
``1.0 - beta1`` computed in Python double, as bitsandbytes does), ``t.add_(u, alpha=a)`` is
one fused multiply-add ``fma(u, a, t)`` (ATen's vectorized ``add`` is ``vec::fmadd``), and
``t.addcmul_(u, v, value=c)`` is ``fma(c * u, v, t)``. The fused multiply-add is computed in
float64 and rounded once to float32, exact except for a double rounding that a float32 sum
meets about once in 2**29 operations.

One operation is not matched bit for bit: ``np.sqrt`` is IEEE (correctly rounded) while the
torch CPU build that bitsandbytes ran on in our checks rounds ``torch.sqrt`` of float32 one ulp
off for about a fifth of inputs. Only Adam's parameter update uses a square root, so Adam's
moments (codes and absmax) stay identical and its parameters differ by a few ulps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# The format (maps, quantization, layout) and its float32 arithmetic: its public names
# are this module's too (__all__), the twin's one entry point.
from ._blockwise8 import (BLOCK, MIN_8BIT_SIZE, Rounding, dequantize_blockwise, dynamic_map,
                          init_8bit_state, quantize_blockwise, uses_8bit_state)
from ._blockwise8 import _F32, _add_alpha, _addcdiv, _addcmul, _f32


# --------------------------------------------------------------------------- 8-bit steps

def _check(param: np.ndarray, grad: np.ndarray, *codes: np.ndarray) -> None:
    if param.dtype != _F32 or not param.flags.c_contiguous:
        raise TypeError("param must be a C-contiguous float32 array")
    if grad.shape != param.shape:
        raise ValueError(f"grad shape {grad.shape} != param shape {param.shape}")
    for c in codes:
        if c.dtype != np.uint8 or c.size != param.size:
            raise TypeError("8-bit state must be uint8 with one code per parameter element")


def _requantize(s: np.ndarray, codes: np.ndarray, absmax: np.ndarray, qmap: np.ndarray,
                rounding: Rounding) -> None:
    """Step 4: new absmax and codes of the updated moment, written in place."""
    c, a = quantize_blockwise(s, qmap, BLOCK, rounding)
    codes.reshape(-1)[:] = c
    absmax[:] = a


def _decoupled_decay(p: np.ndarray, lr: float, weight_decay: float) -> np.ndarray:
    """``p = p * float32(1 - lr * weight_decay)`` when ``weight_decay > 0``."""
    return p * _f32(1.0 - lr * weight_decay) if weight_decay > 0.0 else p


def adam8bit_step(param: np.ndarray, grad: np.ndarray, state1: np.ndarray, state2: np.ndarray,
                  absmax1: np.ndarray, absmax2: np.ndarray, qmap1: np.ndarray,
                  qmap2: np.ndarray, *, step: int, lr: float = 1e-3,
                  betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                  weight_decay: float = 0.0, rounding: Rounding = "bnb") -> None:
    """One step of bitsandbytes' Adam8bit / AdamW8bit (optimizer "adam", CPU path), in place.

    ``step`` is the 1-based count after bitsandbytes' ``state["step"] += 1``. With
    ``m, v`` dequantized from ``state1/absmax1/qmap1`` and ``state2/absmax2/qmap2``::

        m  = m * b1 + (1 - b1) * g                 (fma)
        v  = v * b2 + ((1 - b2) * g) * g           (the last product fused)
        c1 = 1 - b1**step                          (Python double)
        c2 = sqrt(1 - b2**step)                    (Python double)
        d  = sqrt(v) / float32(c2) + eps
        p  = p * (1 - lr * wd)                     (only if wd > 0: decoupled, for Adam8bit too)
        p  = p + (float32(-lr / c1) * m) / d

    then ``m, v`` are requantized (new absmax per block). eps is added after the bias
    correction of sqrt(v) (unlike the 32-bit kernel, :func:`adam32_step`).
    """
    _check(param, grad, state1, state2)
    b1, b2 = betas
    g = np.asarray(grad, dtype=_F32).reshape(-1)
    p = param.reshape(-1)
    m = dequantize_blockwise(state1.reshape(-1), absmax1, qmap1)
    v = dequantize_blockwise(state2.reshape(-1), absmax2, qmap2)
    m = _add_alpha(m * _f32(b1), g, 1.0 - b1)
    v = _addcmul(v * _f32(b2), g, g, 1.0 - b2)
    c1 = 1.0 - b1 ** step
    c2 = math.sqrt(1.0 - b2 ** step)
    denom = np.sqrt(v) / _f32(c2) + _f32(eps)
    new_p = _addcdiv(_decoupled_decay(p, lr, weight_decay), m, denom, -lr / c1)
    p[:] = new_p
    _requantize(m, state1, absmax1, qmap1, rounding)
    _requantize(v, state2, absmax2, qmap2, rounding)


def adamw8bit_step(param: np.ndarray, grad: np.ndarray, state1: np.ndarray, state2: np.ndarray,
                   absmax1: np.ndarray, absmax2: np.ndarray, qmap1: np.ndarray,
                   qmap2: np.ndarray, *, step: int, lr: float = 1e-3,
                   betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                   weight_decay: float = 1e-2, rounding: Rounding = "bnb") -> None:
    """bitsandbytes' AdamW8bit: :func:`adam8bit_step` with its default ``weight_decay=1e-2``
    (bitsandbytes runs both through the same "adam" kernel, decay decoupled in both)."""
    adam8bit_step(param, grad, state1, state2, absmax1, absmax2, qmap1, qmap2, step=step, lr=lr,
                  betas=betas, eps=eps, weight_decay=weight_decay, rounding=rounding)


def sgd8bit_step(param: np.ndarray, grad: np.ndarray, state1: np.ndarray, absmax1: np.ndarray,
                 qmap1: np.ndarray, *, step: int, lr: float, momentum: float,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 rounding: Rounding = "bnb") -> None:
    """One step of bitsandbytes' SGD8bit (optimizer "momentum", CPU path), in place::

        g   = g + wd * p                           (fma; always applied, a no-op for wd = 0)
        buf = g                                    if step == 1
        buf = buf * momentum + g                   otherwise
        p   = p - lr * buf                         (fma)

    then ``buf`` is requantized. Like bitsandbytes: ``momentum == 0`` is refused ("SGD without
    momentum is not supported"), and ``dampening`` and ``nesterov`` are accepted but have no
    effect (bitsandbytes passes dampening as beta2, which the momentum kernel never reads,
    and drops nesterov).
    """
    del dampening, nesterov  # accepted and ignored, as bitsandbytes does
    if momentum == 0:
        raise NotImplementedError("SGD without momentum is not supported!")
    _check(param, grad, state1)
    g = np.asarray(grad, dtype=_F32).reshape(-1)
    p = param.reshape(-1)
    g = _add_alpha(g, p, weight_decay)
    if step == 1:
        buf = g.copy()
    else:
        buf = dequantize_blockwise(state1.reshape(-1), absmax1, qmap1) * _f32(momentum) + g
    p[:] = _add_alpha(p, buf, -lr)
    _requantize(buf, state1, absmax1, qmap1, rounding)


def lion8bit_step(param: np.ndarray, grad: np.ndarray, state1: np.ndarray, absmax1: np.ndarray,
                  qmap1: np.ndarray, *, step: int = 1, lr: float = 1e-4,
                  betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0,
                  rounding: Rounding = "bnb") -> None:
    """One step of bitsandbytes' Lion8bit (optimizer "lion", CPU path), in place::

        p = p * (1 - lr * wd)                      (only if wd > 0: decoupled)
        u = sign(m * b1 + g * (1 - b1))            (two products, then one sum)
        p = p - lr * u
        m = m * b2 + (1 - b2) * g                  (fma)

    then ``m`` is requantized. ``step`` is accepted for a uniform signature and unused.
    """
    del step
    _check(param, grad, state1)
    b1, b2 = betas
    g = np.asarray(grad, dtype=_F32).reshape(-1)
    p = _decoupled_decay(param.reshape(-1), lr, weight_decay)
    m = dequantize_blockwise(state1.reshape(-1), absmax1, qmap1)
    u = np.sign(m * _f32(b1) + g * _f32(1.0 - b1))
    param.reshape(-1)[:] = _add_alpha(p, u, -lr)
    m = _add_alpha(m * _f32(b2), g, 1.0 - b2)
    _requantize(m, state1, absmax1, qmap1, rounding)


# --------------------------------------------------------------------------- 32-bit fallbacks

def adam32_step(param: np.ndarray, grad: np.ndarray, m: np.ndarray, v: np.ndarray, *,
                step: int, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                eps: float = 1e-8, weight_decay: float = 0.0) -> None:
    """bitsandbytes' 32-bit CPU "adam" (a tensor below ``min_8bit_size``), in place::

        m = m * b1 + (1 - b1) * g                  (fma)
        v = v * b2 + ((1 - b2) * g) * g
        c1 = 1 - b1**step;  c2 = sqrt(1 - b2**step);  step_size = -lr * c2 / c1
        p = p * (1 - lr * wd)                      (only if wd > 0)
        p = p + step_size * (m / (sqrt(v) + eps * c2))   (fma)

    Here eps is scaled by c2 rather than added after the correction: not the 8-bit formula.
    """
    b1, b2 = betas
    g = np.asarray(grad, dtype=_F32)
    m[...] = _add_alpha(m * _f32(b1), g, 1.0 - b1)
    v[...] = _addcmul(v * _f32(b2), g, g, 1.0 - b2)
    c1 = 1.0 - b1 ** step
    c2 = math.sqrt(1.0 - b2 ** step)
    update = m / (np.sqrt(v) + _f32(eps * c2))
    p = _decoupled_decay(param, lr, weight_decay)
    param[...] = _add_alpha(p, update, -lr * c2 / c1)


def sgd32_step(param: np.ndarray, grad: np.ndarray, buf: np.ndarray, *, step: int, lr: float,
               momentum: float, weight_decay: float = 0.0) -> None:
    """bitsandbytes' 32-bit CPU "momentum", in place::

        g = g + wd * p  (fma, only if wd > 0);  buf = g if step == 1 else buf * momentum + g
        p = p - lr * buf                           (fma)
    """
    g = np.asarray(grad, dtype=_F32)
    if weight_decay > 0.0:
        g = _add_alpha(g, param, weight_decay)
    buf[...] = g if step == 1 else buf * _f32(momentum) + g
    param[...] = _add_alpha(param, buf, -lr)


def lion32_step(param: np.ndarray, grad: np.ndarray, m: np.ndarray, *, lr: float = 1e-4,
                betas: tuple[float, float] = (0.9, 0.99), weight_decay: float = 0.0) -> None:
    """bitsandbytes' 32-bit CPU "lion", in place::

        p = p * (1 - lr * wd)  (only if wd > 0);  u = sign(fma(g, 1 - b1, m * b1))
        p = p - lr * u;  m = m * b2 + (1 - b2) * g (fma)

    (the 8-bit path forms ``u`` from two separate products instead of an fma).
    """
    b1, b2 = betas
    g = np.asarray(grad, dtype=_F32)
    u = np.sign(_add_alpha(m * _f32(b1), g, 1.0 - b1))
    param[...] = _add_alpha(_decoupled_decay(param, lr, weight_decay), u, -lr)
    m[...] = _add_alpha(m * _f32(b2), g, 1.0 - b2)



# --------------------------------------------------------------------------- the functional twin

def blockwise8(kind: str, params: list[np.ndarray], grads: list[np.ndarray],
               state1s: list[np.ndarray], state2s: list[np.ndarray | None] | None,
               absmax1s: list[np.ndarray | None],
               absmax2s: list[np.ndarray | None] | None, qmap1: Any, qmap2: Any, step: int, *,
               lr: float, beta1: float = 0.0,
               beta2: float = 0.0, eps: float = 0.0, weight_decay: float = 0.0,
               momentum: float = 0.0, names: list[str] | None = None) -> None:
    """The twin of :func:`fusedoptim.functional.blockwise8`: every array checked by the
    native checks first, then each param's step by the functions above (the 8-bit path
    where its ``state1`` is uint8, the 32-bit one where it is float32)."""
    from .. import functional as F

    F.blockwise8_work(kind, params, grads, state1s, state2s, absmax1s, absmax2s, qmap1, qmap2,
                      step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                      momentum=momentum, names=names)
    n = len(params)
    s2: list[Any] = list(state2s) if state2s is not None else [None] * n
    a1: list[Any] = list(absmax1s)
    a2: list[Any] = list(absmax2s) if absmax2s is not None else [None] * n
    betas = (beta1, beta2)
    for p, g, m, v, x1, x2 in zip(params, grads, state1s, s2, a1, a2):
        eight = m.dtype == np.uint8
        if kind == "adam":
            if eight:
                adam8bit_step(p, g, m, v, x1, x2, qmap1, qmap2, step=step, lr=lr, betas=betas,
                              eps=eps, weight_decay=weight_decay)
            else:
                adam32_step(p, g, m, v, step=step, lr=lr, betas=betas, eps=eps,
                            weight_decay=weight_decay)
        elif kind == "momentum":
            if eight:
                sgd8bit_step(p, g, m, x1, qmap1, step=step, lr=lr, momentum=momentum,
                             weight_decay=weight_decay)
            else:
                sgd32_step(p, g, m, step=step, lr=lr, momentum=momentum,
                           weight_decay=weight_decay)
        elif eight:
            lion8bit_step(p, g, m, x1, qmap1, lr=lr, betas=betas, weight_decay=weight_decay)
        else:
            lion32_step(p, g, m, lr=lr, betas=betas, weight_decay=weight_decay)


__all__ = ["BLOCK", "MIN_8BIT_SIZE", "Rounding", "dynamic_map", "quantize_blockwise",
           "dequantize_blockwise", "uses_8bit_state", "init_8bit_state", "adam8bit_step",
           "adamw8bit_step", "sgd8bit_step", "lion8bit_step", "adam32_step", "sgd32_step",
           "lion32_step", "blockwise8"]
