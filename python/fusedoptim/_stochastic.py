"""Stochastic rounding (``stochastic_rounding=True``) in NumPy: the NumPy twin, bit for
bit, of the native stores (csrc/engine/half_convert.h, the rule and the generator, and
csrc/engine/multi_tensor.h's ``rounding_key``).

The generator is counter-based: the bits of element ``i`` (its index in its tensor) of
one written operand in one step are a function of the operand's 64-bit key and ``i``
only, so that no tiling, chunking, thread count or ISA path can change them::

    sm(z)  = splitmix64's output function of z + 0x9E3779B97F4A7C15 (mod 2**64)
    key    = sm(sm(sm(sm(seed) ^ step) ^ tensor) ^ operand)
    r(i)   = fmix32(fmix32(lo32(i) ^ lo32(key)) ^ (hi32(key) + hi32(i)))   (32 bits)

``fmix32`` is murmur3's 32-bit finalizer; ``step`` the param's step count of this step
(1 on the first), ``tensor`` its flat index in the optimizer, ``operand`` the written
operand's index in its kernel family's operand table (0: the param).

The rule, on the float32 bits of x, magnitude a, the sign kept: bfloat16: a <= 0x7f7f0000:
``(a + (r >> 16)) >> 16``; float16 normal (2**-14 <= |x| <= 65504):
``(a - (112 << 23) + (r >> 19)) >> 13``; float16 subnormal: x = M * 2**-s units of
2**-24 (M the mantissa with its implicit bit, s = 126 - max(E, 1)), s1 = min(s, 31):
``((M >> (s - s1)) + (r >> (32 - s1))) >> s1``; beyond the largest finite value, inf and
NaN: round to nearest even. x then becomes the upper of its two 16-bit neighbours with
probability (x - lo) / (hi - lo) (truncated to 31 bits below 2**-31).
"""
from __future__ import annotations

import contextvars
import os
import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._half import is_bfloat16

_M64 = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15


def _sm(z: int) -> int:
    z = (z + _GAMMA) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def rounding_key(seed: int, step: int, tensor: int, operand: int) -> int:
    """The 64-bit key of one written operand of one param in one step."""
    return _sm(_sm(_sm(_sm(seed) ^ step) ^ tensor) ^ operand)


def _fmix32(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def random_bits(key: int, n: int, first: int = 0) -> np.ndarray:
    """The 32 random bits of elements first .. first + n - 1 of an operand with ``key``."""
    i = np.arange(n, dtype=np.uint64) + np.uint64(first)
    lo = (i & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    hi = (i >> np.uint64(32)).astype(np.uint32)
    with np.errstate(over="ignore"):
        h = _fmix32(lo ^ np.uint32(key & 0xFFFFFFFF))
        return _fmix32(h ^ (np.uint32(key >> 32) + hi))


def round_bits(x: np.ndarray, dtype: Any, r: np.ndarray) -> np.ndarray:
    """float32 ``x`` rounded stochastically to ``dtype`` (float16 or bfloat16) with the
    random bits ``r`` (uint32, x's shape)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32)
    r = r.reshape(x.shape).astype(np.uint32)
    a = u & np.uint32(0x7FFFFFFF)
    sign = (u >> np.uint32(16)) & np.uint32(0x8000)
    with np.errstate(over="ignore", invalid="ignore"):
        rne = x.astype(dtype).view(np.uint16).astype(np.uint32)
        if is_bfloat16(np.dtype(dtype)):
            sr = (a + (r >> np.uint32(16))) >> np.uint32(16)
            out = np.where(a > np.uint32(0x7F7F0000), rne, sr | sign)
        else:
            normal = (a - np.uint32(112 << 23) + (r >> np.uint32(19))) >> np.uint32(13)
            e = a >> np.uint32(23)
            m = np.where(e > 0, (a & np.uint32(0x7FFFFF)) | np.uint32(0x800000), a)
            s = np.uint32(126) - np.maximum(e, np.uint32(1))
            s1 = np.minimum(s, np.uint32(31))
            d = s - s1
            mm = np.where(d >= 32, np.uint32(0), m >> np.minimum(d, np.uint32(31)))
            sub = (mm + (r >> (np.uint32(32) - s1))) >> s1
            sr = np.where(a < np.uint32(0x38800000), sub, normal)
            out = np.where(a > np.uint32(0x477FE000), rne, sr | sign)
    return out.astype(np.uint16).view(dtype)


def stochastic_round(x: np.ndarray, dtype: Any, key: int, first: int = 0) -> np.ndarray:
    """float32 ``x`` (flattened in C order: element indices first, first + 1 ...) rounded
    stochastically to ``dtype`` with the operand key ``key``; x's shape."""
    x = np.asarray(x, dtype=np.float32)
    return round_bits(x, dtype, random_bits(key, x.size, first)).reshape(x.shape)


# ------------------------------------------------ the reference's stores, while a step runs
#: id of a 16-bit array the reference step writes -> its operand key (set around a step)
_KEYS: contextvars.ContextVar[dict[int, int] | None] = contextvars.ContextVar(
    "fusedoptim_rounding_keys", default=None)


@contextlib.contextmanager
def rounding_keys(keys: dict[int, int] | None) -> Iterator[None]:
    """Within: :func:`store` rounds the arrays of ``keys`` (by id) stochastically."""
    token = _KEYS.set(keys)
    try:
        yield
    finally:
        _KEYS.reset(token)


def keys_of_works(works: list[Any]) -> dict[int, int] | None:
    """The operand keys of every array of works that carry rounding (their 7th entry,
    ``(seed, tensors, steps)``), by the arrays' ids; None if none does."""
    keys: dict[int, int] = {}
    for w in works:
        rounding = w[6] if len(w) > 6 else None
        if rounding is None:
            continue
        seed, tensors, steps = rounding
        for k, lst in enumerate(w[3]):
            if lst is None or k == 1:  # operand 1, the grads, is only read
                continue
            for a, t, s in zip(lst, tensors, steps):
                if a is not None:
                    keys[id(a)] = rounding_key(seed, s, t, k)
    return keys or None


def store(dst: np.ndarray, values: np.ndarray) -> None:
    """dst[...] = values in dst's dtype: rounded stochastically where the running step
    gave dst a key (and dst is 16-bit), else to nearest even."""
    keys = _KEYS.get()
    key = None if keys is None else keys.get(id(dst))
    if key is None or dst.dtype.itemsize != 2:
        dst[...] = values.astype(dst.dtype)
    else:
        dst[...] = stochastic_round(values, dst.dtype, key)


def new_rounding_seed() -> int:
    """A fresh 64-bit seed (os.urandom)."""
    return int.from_bytes(os.urandom(8), "little")
