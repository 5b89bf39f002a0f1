"""What every functional entry shares: the kernel specs by name, flag words, the
per-step scalars in the kernel's order, and running works.

A work is what the native layer runs: ``(family, flags, scalars, operands, names)``.
The order of a family's scalars and the bits of its flags are defined once, in its
C++ header (csrc/optimizers/<family>.h), and read here from ``_native.SPECS``:
:func:`scalar_packer` makes the function that puts named values in that order, so a
scalar function names each value it returns and cannot return them out of order.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from .. import _backends
from .. import _checks as C
from .. import _native

#: a per-step scalar function: ``fn(step, <hyperparameters>...)`` -> the kernel's scalars
ScalarFn = Callable[..., "tuple[float, ...]"]
_Fn = TypeVar("_Fn", bound=ScalarFn)

ID = {name: spec["id"] for name, spec in _native.SPECS.items()}
_FLAGS = {name: spec["flags"] for name, spec in _native.SPECS.items()}

run = _backends.run

#: functional name -> (scalar function, whether its scalars change with the step number).
#: Filled by :func:`kernel_scalars`; a reused plan (optim/_fast.py) recomputes each
#: step's scalars through it.
SCALARS: dict[str, tuple[ScalarFn, bool]] = {}


#: kernel family -> the functional entry whose step it is one pass of (the optimizers
#: whose step is more than one native pass: LAMB, LARS ...); filled by :func:`passes_of`
PASS_OF: dict[str, str] = {}


def passes_of(name: str, *families: str) -> None:
    """Records that the step of functional ``name`` runs these kernel families."""
    for family in families:
        PASS_OF[family] = name


def trust_ratios(param_sq: Any, update_sq: Any, trust_coefficient: float = 1.0,
                 eps: float = 0.0) -> Any:
    """optax.scale_by_trust_ratio per tensor from the sums of squares:
    trust_coefficient * ||p|| / (||u|| + eps), or 1 where ||p|| or ||u|| is 0."""
    pn, un = np.sqrt(param_sq), np.sqrt(update_sq)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = trust_coefficient * pn / (un + eps)
    return np.where((pn == 0) | (un == 0), 1.0, ratio)


def backend(params: Any) -> Any:
    """Host or CUDA, from the first param (the native checks name any array of the
    other side)."""
    return _backends.for_arrays(params) if isinstance(params, (list, tuple)) else _backends.HOST


def flags(family: str, **on: bool) -> int:
    """The flag word of ``family`` with the named flags set (a name not in the spec is a
    KeyError: a typo never silently drops an option)."""
    bits = _FLAGS[family]
    return sum(bits[name] for name, value in on.items() if value)


def scalar_packer(family: str) -> ScalarFn:
    """A function taking the family's scalars as keywords and returning them as a tuple
    in the kernel's order. Generated from the spec (like collections.namedtuple, but a
    plain tuple and about 10x cheaper to call, since it runs on every step)."""
    names = _native.SPECS[family]["scalars"]
    args = ", ".join(names)
    src = f"def pack(*, {args}):\n    return ({args}{',' if len(names) == 1 else ''})\n"
    namespace: dict[str, Any] = {}
    exec(src, namespace)  # noqa: S102 - the names are the kernel spec's identifiers
    pack: ScalarFn = namespace["pack"]
    pack.__qualname__ = f"{family}_scalars_pack"
    return pack


def kernel_scalars(name: str, *, by_step: bool) -> Callable[[_Fn], _Fn]:
    """Registers a per-step scalar function under its functional ``name``. Such a function
    is pure: ``fn(step, <checked hyperparameters>...)`` (positionally, in the order of its
    parameters), so that a reused plan can call it cheaply at every step."""
    def register(fn: _Fn) -> _Fn:
        SCALARS[name] = (fn, by_step)
        return fn
    return register

