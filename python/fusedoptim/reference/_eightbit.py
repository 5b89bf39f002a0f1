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
from typing import Literal

import numpy as np

BLOCK = 256
"""Elements per quantization block (bitsandbytes' optimizers fix it at 256)."""

MIN_8BIT_SIZE = 4096
"""bitsandbytes' default ``min_8bit_size``: tensors with fewer elements keep float32 state."""

_LUT_SIZE = 65536
"""Bins of the lookup table bitsandbytes' CPU quantizer puts over [-1, 1]."""

Rounding = Literal["bnb", "nearest"]

_F32 = np.float32


# --------------------------------------------------------------------------- float32 arithmetic

def _f32(x: float) -> np.float32:
    """A Python scalar as torch's CPU kernels see it next to a float32 tensor: cast to float32."""
    return _F32(x)


def _fma(a: np.ndarray, b: np.float32 | np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a * b + c`` rounded once to float32 (the product of two float32 is exact in float64)."""
    return (a.astype(np.float64) * np.float64(b) + c).astype(_F32)


def _add_alpha(t: np.ndarray, u: np.ndarray, alpha: float) -> np.ndarray:
    """torch's ``t.add(u, alpha=alpha)`` on float32: ``fma(u, float32(alpha), t)``."""
    return _fma(u, _f32(alpha), t)


def _addcmul(t: np.ndarray, u: np.ndarray, v: np.ndarray, value: float) -> np.ndarray:
    """torch's ``t.addcmul(u, v, value=value)`` on float32: ``fma(float32(value) * u, v, t)``
    (the first product rounded, the second fused with the sum)."""
    return _fma(_f32(value) * u, v, t)


def _addcdiv(t: np.ndarray, u: np.ndarray, v: np.ndarray, value: float) -> np.ndarray:
    """torch's ``t.addcdiv(u, v, value=value)`` on float32: ``t + (float32(value) * u) / v``."""
    return t + (_f32(value) * u) / v


# --------------------------------------------------------------------------- the dynamic map

def _linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """``torch.linspace(start, end, steps, dtype=torch.float32)`` on CPU, value for value.

    With ``step = (end - start) / (steps - 1)`` in float32 and ``h = steps // 2``:
    ``x[i] = start + step * i`` for ``i < h`` and ``x[i] = end - step * (steps - 1 - i)``
    for ``i >= h`` (ATen's RangeFactoriesKernel), each a fused multiply-add rounded once to
    float32 (rounding the product first differs from torch in 24 of 129 values).
    """
    a, b = _f32(start), _f32(end)
    if steps == 1:
        return np.array([a], dtype=_F32)
    step = (b - a) / _f32(steps - 1)
    i = np.arange(steps, dtype=np.float64)
    low = _fma(i, step, np.full(steps, a, dtype=np.float64))
    high = _fma(steps - 1 - i, -step, np.full(steps, b, dtype=np.float64))
    return np.where(i < steps // 2, low, high).astype(_F32)


def dynamic_map(signed: bool = True, max_exponent_bits: int = 7, total_bits: int = 8) -> np.ndarray:
    """bitsandbytes' ``create_dynamic_map(signed, max_exponent_bits=7, total_bits=8)``,
    bit for bit: 256 sorted float32 values in [-1, 1] (signed) or [0, 1] (unsigned).

    The dynamic tree data type: for exponent ``e = 0 .. 6`` the interval [0.1, 1] is cut into
    ``n_e = 2**e`` (signed) or ``2**(e + 1)`` (unsigned) equal parts by
    ``b = linspace(0.1, 1, n_e + 1)`` and the midpoints ``(b[k] + b[k+1]) / 2`` are scaled by
    ``10**(e - 6)``; the signed map adds their negatives. With 0 and 1 appended:
    signed 2 * 127 + 2 = 256 values (smallest -0.99297, no -1), unsigned 254 + 2 = 256.
    Optimizers use ``signed=True`` for the first moment and ``signed=False`` for Adam's
    second moment. Every product is float32: ``float32(10**(e - 6)) * mean``.
    """
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    data: list[np.ndarray] = []

    def add(count: int, e: int) -> None:
        b = _linspace_f32(0.1, 1.0, count + 1)
        means = (b[:-1] + b[1:]) / _F32(2.0)
        scale = 10 ** (-(max_exponent_bits - 1) + e)
        data.append(_f32(scale) * means)
        if signed:
            data.append(_f32(-scale) * means)

    for e in range(max_exponent_bits):
        shift = 0 if signed else 1
        add(2 ** (e + non_sign_bits - max_exponent_bits + shift), e)
    if additional_items > 0:
        add(additional_items, max_exponent_bits - 1)
    values = np.concatenate(data + [np.array([0.0, 1.0], dtype=_F32)])
    if values.size != 2 ** total_bits:
        raise ValueError("the map must have 2**total_bits values")
    values = np.concatenate([values, np.zeros(256 - values.size, dtype=_F32)])
    return np.sort(values).astype(_F32)


# --------------------------------------------------------------------------- block quantization

def _blocks(n: int, block: int) -> int:
    """Number of blocks for n elements: ``ceil(n / block)`` (a last partial block counts)."""
    return -(-n // block)


def _block_absmax(x: np.ndarray, block: int) -> np.ndarray:
    """``absmax[b] = max_{i in block b} |x[i]|`` in float32 (exact: no rounding)."""
    n = x.size
    pad = _blocks(n, block) * block - n
    a = np.abs(np.concatenate([x, np.zeros(pad, dtype=_F32)]))
    return a.reshape(-1, block).max(axis=1).astype(_F32)


def _midpoints(qmap: np.ndarray) -> np.ndarray:
    """``m[k] = 0.5 * (qmap[k] + qmap[k+1])`` in float32: the cell edges of a sorted map."""
    return (_F32(0.5) * (qmap[:-1] + qmap[1:])).astype(_F32)


def _bnb_lut(qmap: np.ndarray) -> np.ndarray:
    """The 65536-entry table of bitsandbytes' CPU quantizer (csrc/cpu_ops.cpp
    ``build_quantize_lut``): bin ``j`` stands for ``v_j = -1 + (2 j) / 65535`` (float32) and
    holds the number of midpoints strictly below ``v_j``, i.e. the code nearest to ``v_j``
    (ties to the lower code)."""
    j = np.arange(_LUT_SIZE, dtype=_F32)
    v = _F32(-1.0) + (_F32(2.0) * j) / _F32(_LUT_SIZE - 1)
    return np.searchsorted(_midpoints(qmap), v, side="left").astype(np.uint8)


_LUT_CACHE: dict[bytes, np.ndarray] = {}


def _lut_for(qmap: np.ndarray) -> np.ndarray:
    key = np.ascontiguousarray(qmap, dtype=_F32).tobytes()
    if key not in _LUT_CACHE:
        _LUT_CACHE[key] = _bnb_lut(np.asarray(qmap, dtype=_F32))
    return _LUT_CACHE[key]


def _codes_bnb(scaled: np.ndarray, qmap: np.ndarray) -> np.ndarray:
    """bitsandbytes' CPU rule for a scaled value ``s``: ``s = clamp(s, -1, 1)``, bin
    ``j = trunc((s + 1) * 0.5 * 65535 + 0.5)`` in float32 (the last multiply-add fused, as
    GCC compiles it), code ``lut[j]``. The map is first rounded to a 2/65535 grid: a value
    is coded by the map entry nearest to its grid point, so codes whose cell is narrower than
    the grid (the map's finest steps near 0) are never produced."""
    s = np.clip(scaled, _F32(-1.0), _F32(1.0))
    half = (s + _F32(1.0)) * _F32(0.5)
    j = _fma(half, _F32(_LUT_SIZE - 1), np.full_like(half, 0.5)).astype(np.uint16)
    return _lut_for(qmap)[j]


def _codes_nearest(scaled: np.ndarray, qmap: np.ndarray) -> np.ndarray:
    """Nearest rounding (the paper's rule): the code ``k`` minimizing ``|qmap[k] - s|`` for
    ``s = clamp(s, -1, 1)``, found as the number of midpoints strictly below ``s`` (ties to
    the lower code), what bitsandbytes' pure-torch backend does with ``torch.bucketize``."""
    s = np.clip(scaled, _F32(-1.0), _F32(1.0))
    return np.searchsorted(_midpoints(qmap), s, side="left").astype(np.uint8)


def quantize_blockwise(x: np.ndarray, qmap: np.ndarray, block: int = BLOCK,
                       rounding: Rounding = "bnb") -> tuple[np.ndarray, np.ndarray]:
    """Blockwise quantization of float32 ``x`` (any shape, any length) with a sorted 256-entry
    ``qmap``. Returns ``(codes uint8 of x's shape, absmax float32 of ceil(n / block))``.

    Per block ``b``: ``absmax[b] = max |x|``; ``s = x * float32(1 / absmax[b])`` (a multiply
    by the float32 reciprocal, as bitsandbytes' CPU kernel does); ``code = rule(s)``. A block
    whose absmax is 0 gets codes 0 (bitsandbytes' convention; they dequantize to 0).

    ``rounding="bnb"`` (the default) is bitsandbytes' CPU rule, a 65536-bin lookup table
    (:func:`_codes_bnb`), so that states match bitsandbytes code for code: the twin's purpose.
    ``rounding="nearest"`` is the paper's nearest-value rule (:func:`_codes_nearest`); it
    differs from "bnb" near cell edges and, mostly, for ``|s| < 3e-5`` where "bnb" cannot
    resolve the map's smallest values (0 is coded as about 1.5e-5 by "bnb", exactly by
    "nearest").
    """
    if rounding not in ("bnb", "nearest"):
        raise ValueError(f"rounding must be 'bnb' or 'nearest', not {rounding!r}")
    if block <= 0:
        raise ValueError(f"block must be positive, got {block}")
    q = np.asarray(qmap, dtype=_F32).reshape(-1)
    if q.size != 256 or np.any(np.diff(q) < 0):
        raise ValueError("qmap must be 256 sorted float32 values")
    flat = np.ascontiguousarray(x, dtype=_F32).reshape(-1)
    n = flat.size
    absmax = _block_absmax(flat, block)
    if n == 0:
        return np.zeros(np.shape(x), dtype=np.uint8), absmax
    per_elem = np.repeat(absmax, block)[:n]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(per_elem > 0, _F32(1.0) / per_elem, _F32(0.0)).astype(_F32)
    scaled = flat * inv
    rule = _codes_bnb if rounding == "bnb" else _codes_nearest
    codes = np.where(per_elem > 0, rule(scaled, q), np.uint8(0)).astype(np.uint8)
    return codes.reshape(np.shape(x)), absmax


def dequantize_blockwise(codes: np.ndarray, absmax: np.ndarray, qmap: np.ndarray,
                         block: int = BLOCK) -> np.ndarray:
    """``x[i] = qmap[codes[i]] * absmax[i // block]`` in float32, of codes' shape."""
    flat = np.asarray(codes, dtype=np.uint8).reshape(-1)
    a = np.asarray(absmax, dtype=_F32).reshape(-1)
    if a.size != _blocks(flat.size, block):
        raise ValueError(f"{flat.size} codes need {_blocks(flat.size, block)} absmax values, "
                         f"got {a.size}")
    out = np.asarray(qmap, dtype=_F32)[flat] * np.repeat(a, block)[: flat.size]
    return out.astype(_F32).reshape(np.shape(codes))


# --------------------------------------------------------------------------- state layout

def uses_8bit_state(numel: int, min_8bit_size: int = MIN_8BIT_SIZE) -> bool:
    """bitsandbytes' rule (``Optimizer8bit.init_state``): 8-bit state iff
    ``numel >= min_8bit_size``; a tensor with ``numel < min_8bit_size`` (4096 by default)
    keeps float32 state. The element count is the only condition."""
    return numel >= min_8bit_size


def init_8bit_state(numel: int, signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A fresh 8-bit moment as bitsandbytes makes it: codes all 0 and absmax all 0 (one per
    block), so that it dequantizes to zeros (``qmap[0] * 0``)."""
    return np.zeros(numel, dtype=np.uint8), np.zeros(_blocks(numel, BLOCK), dtype=_F32)


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
