"""Argument checks shared by the schedules: each names the argument in its TypeError
or ValueError, and runs when a schedule is built (``_step`` when it is called)."""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

#: optax's {step: scale} dicts
Scales = Mapping[Any, float]


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{name}: must not be NaN")
    return v


def _rate(name: str, value: Any) -> float:
    """A learning rate (or a value the schedule can return): finite and >= 0."""
    v = _real(name, value)
    if not 0.0 <= v < math.inf:
        raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
    return v


def _nonneg(name: str, value: Any) -> float:
    v = _real(name, value)
    if v < 0.0:
        raise ValueError(f"{name}: must be >= 0, got {value!r}")
    return v


def _positive(name: str, value: Any) -> float:
    """A finite duration > 0 (a period, a number of steps); ints stay ints."""
    v = _real(name, value)
    if not 0.0 < v < math.inf:
        raise ValueError(f"{name}: must be a finite number > 0, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else v


def _count(name: str, value: Any) -> float:
    """A number of steps >= 0 (a begin, a boundary); ints stay ints."""
    v = _real(name, value)
    if not 0.0 <= v < math.inf:
        raise ValueError(f"{name}: must be a finite number >= 0, got {value!r}")
    return int(value) if isinstance(value, numbers.Integral) else v


def _pct(name: str, value: Any) -> float:
    v = _real(name, value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name}: must be in the open interval (0, 1), got {value!r}")
    return v


def _increasing(name: str, values: Any) -> list[float]:
    """Boundaries: a sequence of step counts >= 0, strictly increasing."""
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name}: expected a sequence of step counts, got {type(values).__name__}")
    out = [_count(f"{name}[{i}]", b) for i, b in enumerate(values)]
    for i in range(1, len(out)):
        if not out[i] > out[i - 1]:
            raise ValueError(f"{name}: must be strictly increasing, got {out[i - 1]!r} then "
                             f"{out[i]!r} at index {i}")
    return out


def _scales(name: str, boundaries_and_scales: Any) -> list[tuple[float, float]]:
    """optax's {step: scale} dicts: sorted (step, scale) pairs, scales >= 0."""
    if boundaries_and_scales is None:
        return []
    if not isinstance(boundaries_and_scales, Mapping):
        raise TypeError(f"{name}: expected a dict {{step: scale}} or None, got "
                        f"{type(boundaries_and_scales).__name__}")
    pairs = []
    for b, s in boundaries_and_scales.items():
        b = _count(f"{name} key {b!r}", b)
        s = _real(f"{name}[{b!r}]", s)
        if not 0.0 <= s < math.inf:
            raise ValueError(f"{name}: scale factors must be finite and >= 0, got {s!r} at "
                             f"step {b!r}")
        pairs.append((b, s))
    return sorted(pairs)


def _step(step: Any) -> float:
    """The step a schedule is called with: an int (NumPy ints and 0-d arrays too) or a
    float, >= 0."""
    if type(step) is int and step >= 0:  # the common case first: this runs every step
        return step
    if getattr(step, "ndim", None) == 0 and hasattr(step, "item"):  # a 0-d NumPy array
        step = step.item()
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        step = int(step)
    elif isinstance(step, numbers.Real) and not isinstance(step, bool):
        step = float(step)
        if math.isnan(step):
            raise ValueError("step: must not be NaN")
    else:
        raise TypeError(f"step: expected an int, got {type(step).__name__} {step!r}")
    if step < 0:
        raise ValueError(f"step: must be >= 0, got {step!r}")
    return step
