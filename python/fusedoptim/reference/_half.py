"""float16 and bfloat16 in the reference: every formula of reference.functional is
written for one dtype; :func:`opmath` runs it for 16-bit params, grads or state as the
native kernels do (and torch's fused CPU optimizers, "opmath"): every 16-bit operand
read as a float32 copy, the float32 formula, each written array rounded once to its
storage dtype (round to nearest even: NumPy's float32 -> float16 cast, ml_dtypes'
float32 -> bfloat16 cast; or, in a step of an optimizer with stochastic_rounding=True,
stochastically: fusedoptim/_stochastic.py's store).
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numpy as np

from .._half import is_half
from .._stochastic import store

_F = TypeVar("_F", bound=Callable[..., Any])


def _is_half_array(a: Any) -> bool:
    return isinstance(a, np.ndarray) and is_half(a.dtype)


def _any_half(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and any(_is_half_array(a) for a in x)


def opmath(fn: _F) -> _F:
    """``fn(params, grads, *state_and_scalars, **kw)`` over float32 copies of its 16-bit
    arrays, the params and state (never the grads) written back rounded once. Anything
    without a 16-bit array runs ``fn`` itself."""

    @functools.wraps(fn)
    def wrapper(params: Sequence[Any], grads: Sequence[Any], *args: Any, **kw: Any) -> Any:
        if not any(_any_half(x) for x in (params, grads) + args):
            return fn(params, grads, *args, **kw)
        for i, (p, g) in enumerate(zip(params, grads)):
            if isinstance(p, np.ndarray) and isinstance(g, np.ndarray) and g.dtype != p.dtype:
                raise TypeError(f"grads[{i}]: dtype {g.dtype} does not match its param's dtype "
                                f"{p.dtype}")
        copies: dict[int, np.ndarray] = {}  # id of a 16-bit array -> its float32 copy

        def up(x: Any) -> Any:
            if not _any_half(x):
                return x
            out = []
            for a in x:
                if _is_half_array(a):
                    if id(a) not in copies:
                        copies[id(a)] = a.astype(np.float32)
                    a = copies[id(a)]
                out.append(a)
            return out

        ups = [up(x) for x in (params, grads) + args]
        result = fn(*ups, **kw)
        for k, (orig, new) in enumerate(zip((params, grads) + args, ups)):
            if k == 1 or new is orig:
                continue  # grads are only read; a list without 16-bit arrays was fn's own
            for i, (o, c) in enumerate(zip(orig, new)):
                if o is None and c is not None:  # a buffer the formula created (sgd's)
                    orig[i] = c.astype(params[i].dtype)
                elif o is not c:
                    store(o, c)  # to nearest even, or stochastically (stochastic_rounding)
        return result

    return cast(_F, wrapper)
