"""Checks of hyperparameters, shared by the classes and the functional layer.

Every check raises before anything is modified and names the parameter. Every
hyperparameter must be finite: inf and NaN are refused with a ValueError (stricter
than torch, which accepts some of them and then writes NaN or inf into the params).
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any


def real(name: str, value: Any) -> float:
    """`value` as a finite float; TypeError (not a number) or ValueError (inf, NaN, or an
    int beyond the float range) naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    try:
        v = float(value)
    except OverflowError:
        v = math.inf
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return v


def nonneg(name: str, value: Any) -> float:
    v = real(name, value)
    if not v >= 0.0:
        raise ValueError(f"{name}: must be >= 0, got {value!r}")
    return v


def in_unit_interval(name: str, value: Any) -> float:
    """A value in [0, 1) such as a beta or a momentum coefficient for EMA."""
    v = real(name, value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name}: must be in [0, 1), got {value!r}")
    return v


def flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, int)) or value not in (0, 1):
        raise TypeError(f"{name}: expected a bool, got {value!r}")
    return bool(value)


def pair(name: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{name}: expected a pair (a, b), got {value!r}")
    return tuple(value)


def step_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected the step number, an int >= 1, got {value!r}")
    return int(value)


def lr_value(value: Any, count: int, label: str) -> float:
    """A value returned by a callable lr at step ``count``: a finite number >= 0."""
    try:
        v = real(label, value)
        if not v >= 0.0:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(f"{label}: the lr schedule returned {value!r} at step {count}; "
                         "it must be a finite number >= 0") from None
    return v


def betas(name: str, value: Any) -> tuple[float, float]:
    """A pair (beta1, beta2), each in [0, 1)."""
    b = pair(name, value)
    return in_unit_interval(f"{name}[0]", b[0]), in_unit_interval(f"{name}[1]", b[1])


def checked(group: Mapping[str, Any], label: Callable[[str], str],
            **checks: Callable[[str, Any], Any]) -> dict[str, Any]:
    """{key: check(label(key), group[key])} for each keyword ``key=check``: the checked
    hyperparameters of a param group, each error naming its key through ``label``."""
    return {key: check(label(key), group[key]) for key, check in checks.items()}


def decoupled_decay(lr: float, weight_decay: float) -> None:
    """Decoupled weight decay multiplies params by 1 - lr * weight_decay: finite lr and
    weight_decay can still make that product overflow (1e200 * 1e200)."""
    if not math.isfinite(1.0 - lr * weight_decay):
        raise ValueError(f"weight_decay: 1 - lr * weight_decay = 1 - {lr} * {weight_decay} is "
                         "not finite")


def adam_hparams(lr: object, beta1: object, beta2: object, eps: object, weight_decay: object,
                 decoupled: bool) -> tuple[float, float, float, float, float]:
    """The hyperparameters the Adam family shares (Adam/AdamW, NAdam, RAdam), checked:
    (lr, beta1, beta2, eps, weight_decay) as floats."""
    lr = nonneg("lr", lr)
    beta1 = in_unit_interval("beta1", beta1)
    beta2 = in_unit_interval("beta2", beta2)
    eps = nonneg("eps", eps)
    weight_decay = nonneg("weight_decay", weight_decay)
    if decoupled:
        decoupled_decay(lr, weight_decay)
    return lr, beta1, beta2, eps, weight_decay


def _scalar_of(value: Any) -> Any:
    """A NumPy scalar, 0-d array or one-element array as its Python value (torch hands
    loss-scaling values around as one-element tensors); anything else as it is."""
    if hasattr(value, "shape") and hasattr(value, "item") and getattr(value, "size", None) == 1:
        return value.item()
    return value


def grad_scale(value: Any) -> float:
    """``step(grad_scale=...)``: the factor the grads were multiplied by, a finite number
    > 0 (None: 1, unscaled)."""
    if value is None:
        return 1.0
    v = real("grad_scale", _scalar_of(value))
    if not v > 0.0:
        raise ValueError(f"grad_scale: must be a finite number > 0, got {value!r}")
    return v


def kernel_scale(scale: float) -> bool:
    """Whether the kernels unscale by ``scale`` on the fly: a power of two in [2^-126,
    2^126], whose reciprocal is exact (see csrc/bindings/plan_common.cpp). GradScaler's
    scales are; any other is divided out of copies of the grads."""
    mantissa, exponent = math.frexp(scale)
    return mantissa == 0.5 and -125 <= exponent <= 127


def found_inf(value: Any) -> bool:
    """``step(found_inf=...)``: whether the grads hold an inf or NaN (None: False). A bool,
    0 or 1 (int or float), or a one-element array of them."""
    if value is None:
        return False
    v = _scalar_of(value)
    if isinstance(v, (bool, numbers.Real)) and v in (0, 1):
        return bool(v)
    raise ValueError(f"found_inf: expected a bool (or 0/1, or a one-element array of them), "
                     f"got {value!r}")
