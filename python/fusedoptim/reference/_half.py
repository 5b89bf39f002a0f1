"""float16 and bfloat16 in the reference: every formula of reference.functional is
written for one dtype; :func:`opmath` runs it for 16-bit params, grads or state as the
native kernels do (and torch's fused CPU optimizers, "opmath"): every 16-bit operand
read as a float32 copy, the float32 formula, each written array rounded once to its
storage dtype (round to nearest even: NumPy's float32 -> float16 cast, ml_dtypes'
float32 -> bfloat16 cast).

Until the native layer takes 16-bit arrays, the reference classes check 16-bit arrays by
float32 stand-ins of the same shape, layout and writeability (:class:`HalfChecks`):
found by trying the native layer, not by a flag.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numpy as np

from .. import _native
from .. import functional as F
from .._half import is_half
from .._typing import Call, Names, Work

_F = TypeVar("_F", bound=Callable[..., Any])


@functools.lru_cache(maxsize=None)
def native_takes_half() -> bool:
    """Whether the native checks take float16 params (the 16-bit kernels are built)."""
    try:
        _native._core.check_params([np.zeros(1, np.float16)], ["p"])
    except TypeError:
        return False
    return True


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
                    o[...] = c.astype(o.dtype)
        return result

    return cast(_F, wrapper)


# ------------------------------------------------------------------ checks by stand-ins
def _stand_in(a: np.ndarray) -> np.ndarray:
    """A float32 array shaped, laid out and writeable as ``a``."""
    out = (np.zeros(a.shape, np.float32) if a.flags.c_contiguous
           else np.zeros(a.shape + (2,), np.float32)[..., 0])
    out.flags.writeable = a.flags.writeable
    return out


def stand_ins(arrays: Sequence[Any], memo: dict[int, np.ndarray] | None = None) -> list[Any]:
    """The arrays with each 16-bit one replaced by its stand-in (one per array, so that an
    array given twice is still seen twice)."""
    memo = {} if memo is None else memo
    out = []
    for a in arrays:
        if _is_half_array(a):
            if id(a) not in memo:
                memo[id(a)] = _stand_in(a)
            a = memo[id(a)]
        out.append(a)
    return out


def _check_dtypes(args: Sequence[Any], names: Names) -> None:
    """What the stand-ins hide, for a call's arguments (params, grads, state lists ...):
    grads in their param's dtype, float64 state for float64 params only."""
    lists = [a for a in args if isinstance(a, (list, tuple))]
    params = lists[0] if lists else []
    for k, lst in enumerate(lists[1:], start=1):
        for i, (p, a) in enumerate(zip(params, lst)):
            if not isinstance(a, np.ndarray) or not isinstance(p, np.ndarray):
                continue
            bad = (a.dtype != p.dtype if k == 1
                   else (a.dtype == np.float64) != (p.dtype == np.float64))
            if bad:
                who = names[i] if names is not None and i < len(names) else str(i)
                raise TypeError(f"{'grads' if k == 1 else 'state'} of param {who}: dtype "
                                f"{a.dtype} does not go with its param's dtype {p.dtype}")


def stand_in_calls(calls: Sequence[Call]) -> list[Call]:
    """The calls with 16-bit arrays replaced by stand-ins, their dtypes checked first."""
    memo: dict[int, np.ndarray] = {}
    out: list[Call] = []
    for name, args, kw in calls:
        _check_dtypes(args, kw.get("names"))
        new = tuple(stand_ins(a, memo) if isinstance(a, (list, tuple)) else a for a in args)
        out.append((name, new, kw))
    return out


def _check_params(self: Any, backend: Any, arrays: list[Any], names: list[str]) -> None:
    if backend.name == "host" and not native_takes_half():
        arrays = stand_ins(arrays)
    backend.check_params(arrays, names)


def _works(self: Any, calls: list[Call]) -> list[Work]:
    if self._backend.name == "host" and not native_takes_half():
        calls = stand_in_calls(calls)
    return [getattr(F, name + "_work")(*args, **kw) for name, args, kw in calls]


#: the methods a reference class overrides (see optim.base.Optimizer._check_params)
CHECKS = {"_check_params": _check_params, "_works": _works}
