r"""The lectures' schedules: constant, piecewise constant (the list form, and optax's
dict form), step decay, exponential time decay and the inverse time decays."""
from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Union

from .._typing import Step
from ._base import Schedule, _args, _named, _scaled
from ._checks import Scales, _increasing, _positive, _rate, _scales, _step

#: the lectures' boundaries (a list), or optax's {step: scale} dict
_Boundaries = Union[Scales, Sequence[float], None]


class _Constant(Schedule):
    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self, step: Step) -> float:
        return self.value


class _PiecewiseRates(Schedule):
    """The lectures' form: rates[i] from bounds[i - 1] on."""

    def __init__(self, rates: list[float], bounds: list[float]) -> None:
        self.rates, self.bounds = rates, bounds

    def __call__(self, step: Step) -> float:
        return self.rates[bisect_right(self.bounds, _step(step))]


class _PiecewiseScales(Schedule):
    """optax's form: init_value times every scale whose boundary is passed."""

    def __init__(self, init_value: float, pairs: list[tuple[float, float]]) -> None:
        self.init_value, self.pairs = init_value, pairs

    def __call__(self, step: Step) -> float:
        t, v = _step(step), self.init_value
        for b, s in self.pairs:
            if t < b:
                break
            v = s * v
        return v


class _StepDecay(Schedule):
    def __init__(self, init_value: float, factor: float, every: float) -> None:
        self.init_value, self.factor, self.every = init_value, factor, every

    def __call__(self, step: Step) -> float:
        return _scaled(self.init_value, self.factor, _step(step) // self.every)


class _ExponentialTimeDecay(Schedule):
    def __init__(self, init_value: float, rate: float) -> None:
        self.init_value, self.rate = init_value, rate

    def __call__(self, step: Step) -> float:
        return self.init_value * math.exp(-self.rate * _step(step))


class _InverseTimeDecay(Schedule):
    def __init__(self, init_value: float, k: float) -> None:
        self.init_value, self.k = init_value, k

    def __call__(self, step: Step) -> float:
        return self.init_value / (1 + self.k * _step(step))


class _InverseLinearDecay(Schedule):
    def __init__(self, init_value: float) -> None:
        self.init_value = init_value

    def __call__(self, step: Step) -> float:
        return self.init_value / (_step(step) + 1)


class _InverseQuadraticDecay(Schedule):
    def __init__(self, init_value: float) -> None:
        self.init_value = init_value

    def __call__(self, step: Step) -> float:
        return self.init_value / (_step(step) + 1) ** 2


def constant_schedule(value: float) -> Schedule:
    r"""Constant rate: :math:`\eta_t = \eta` for every step t (the lectures' and optax's).

    ``value``: the rate, finite and >= 0.
    """
    v = _rate("value", value)
    return _named(_Constant(v), f"constant_schedule({_args(value=value)})")


def piecewise_constant_schedule(init_value: float | Sequence[float],
                                boundaries_and_scales: _Boundaries = None) -> Schedule:
    r"""Piecewise constant rate, in optax's form or in the lectures' form.

    **optax's form** ``piecewise_constant_schedule(init_value, boundaries_and_scales)``,
    with ``init_value`` a number and ``boundaries_and_scales`` a dict ``{b_i: s_i}``
    (or None): each scale multiplies the value from its boundary on,

    .. math:: \eta_t = \eta_0 \prod_{i:\ t \ge b_i} s_i .

    Scales must be >= 0 (optax's check), boundaries >= 0.

    **The lectures' form** ``piecewise_constant_schedule([eta_0, ..., eta_n], [t_1, ..., t_n])``,
    with ``init_value`` a sequence of n + 1 rates and the second argument a sequence of
    n boundaries ``t_1 < t_2 < ... < t_n``:

    .. math:: \eta_t = \eta_0 \text{ for } t < t_1, \qquad
              \eta_t = \eta_i \text{ for } t_i \le t < t_{i+1}, \qquad
              \eta_t = \eta_n \text{ for } t \ge t_n .

    Rates must be finite and >= 0, boundaries >= 0 and strictly increasing.
    """
    if isinstance(init_value, (str, bytes, Mapping)):
        raise TypeError(f"init_value: expected a number or a sequence of rates, got "
                        f"{type(init_value).__name__}")
    if getattr(init_value, "ndim", None) == 0:  # a 0-d NumPy array: a number
        init_value = init_value.item()  # type: ignore[union-attr]
    if hasattr(init_value, "__iter__") or hasattr(init_value, "__len__"):
        rates = [_rate(f"init_value[{i}]", r) for i, r in enumerate(init_value)]
        if not rates:
            raise ValueError("init_value: the list of rates is empty")
        bounds = _increasing("boundaries_and_scales",
                             () if boundaries_and_scales is None else boundaries_and_scales)
        if len(bounds) != len(rates) - 1:
            raise ValueError(f"boundaries_and_scales: {len(rates)} rates need {len(rates) - 1} "
                             f"boundaries, got {len(bounds)}")
        return _named(_PiecewiseRates(rates, bounds),
                      f"piecewise_constant_schedule({rates!r}, {bounds!r})")
    v0 = _rate("init_value", init_value)
    if boundaries_and_scales is not None and not isinstance(boundaries_and_scales, Mapping):
        raise TypeError("boundaries_and_scales: with a number as init_value, expected a dict "
                        "{step: scale} (optax's form); for the lectures' form pass a list of "
                        "rates as init_value and a list of boundaries")
    pairs = _scales("boundaries_and_scales", boundaries_and_scales)
    return _named(_PiecewiseScales(v0, pairs), "piecewise_constant_schedule("
                  + _args(init_value=init_value, boundaries_and_scales=boundaries_and_scales) + ")")


def step_decay_schedule(init_value: float, factor: float, every: float) -> Schedule:
    r"""Step decay: the rate is multiplied by ``factor`` every ``every`` steps,

    .. math:: \eta_t = \eta_0 \cdot \text{factor}^{\lfloor t / \text{every} \rfloor}

    (``factor=0.5, every=k``: halve every k epochs). ``factor`` >= 0 and finite,
    ``every`` > 0.
    """
    v0 = _rate("init_value", init_value)
    f = _rate("factor", factor)
    k = _positive("every", every)
    return _named(_StepDecay(v0, f, k), "step_decay_schedule("
                  + _args(init_value=init_value, factor=factor, every=every) + ")")


def exponential_time_decay_schedule(init_value: float, rate: float) -> Schedule:
    r"""Exponential decay in time: :math:`\eta_t = \eta_0\, e^{-\text{rate}\cdot t}`, rate >= 0."""
    v0 = _rate("init_value", init_value)
    r = _rate("rate", rate)
    return _named(_ExponentialTimeDecay(v0, r),
                  f"exponential_time_decay_schedule({_args(init_value=init_value, rate=rate)})")


def inverse_time_decay_schedule(init_value: float, k: float) -> Schedule:
    r"""Inverse time decay: :math:`\alpha_t = \alpha_0 / (1 + k t)`, k >= 0."""
    v0 = _rate("init_value", init_value)
    kk = _rate("k", k)
    return _named(_InverseTimeDecay(v0, kk),
                  f"inverse_time_decay_schedule({_args(init_value=init_value, k=k)})")


def inverse_linear_decay_schedule(init_value: float) -> Schedule:
    r"""Inverse linear decay: :math:`\eta_t = \eta_0 / (t + 1)`."""
    v0 = _rate("init_value", init_value)
    return _named(_InverseLinearDecay(v0),
                  f"inverse_linear_decay_schedule({_args(init_value=init_value)})")


def inverse_quadratic_decay_schedule(init_value: float) -> Schedule:
    r"""Inverse quadratic decay: :math:`\eta_t = \eta_0 / (t + 1)^2`."""
    v0 = _rate("init_value", init_value)
    return _named(_InverseQuadraticDecay(v0),
                  f"inverse_quadratic_decay_schedule({_args(init_value=init_value)})")
