r"""optax's basic schedules, with optax's names, arguments, defaults and arithmetic
(``optax.schedules``): polynomial, linear, exponential decay, cosine decay and the
linear warmup to a constant."""
from __future__ import annotations

import math
import numbers

from .._typing import Step
from ._base import Schedule, _args, _named, _scaled
from ._checks import _count, _nonneg, _positive, _rate, _real, _step
from .lectures import _Constant


class _Polynomial(Schedule):
    def __init__(self, init_value: float, end_value: float, power: float, steps: float,
                 begin: float) -> None:
        self.init_value, self.end_value, self.power = init_value, end_value, power
        self.steps, self.begin = steps, begin

    def __call__(self, step: Step) -> float:
        count = min(max(_step(step) - self.begin, 0), self.steps)
        frac = 1 - count / self.steps
        return (self.init_value - self.end_value) * frac ** self.power + self.end_value


class _ExponentialDecay(Schedule):
    def __init__(self, init_value: float, steps: float, rate: float, begin: float, staircase: bool,
                 end_value: float | None) -> None:
        self.init_value, self.steps, self.rate, self.begin = init_value, steps, rate, begin
        self.staircase, self.end_value = staircase, end_value

    def __call__(self, step: Step) -> float:
        d = _step(step) - self.begin
        if d <= 0:
            v = self.init_value
        else:
            p = d / self.steps
            if self.staircase:
                p = math.floor(p)
            v = _scaled(self.init_value, self.rate, p)
        end = self.end_value
        if end is None:
            return v
        return max(v, end) if self.rate < 1.0 else min(v, end)   # a floor, or a ceiling


class _CosineDecay(Schedule):
    def __init__(self, init_value: float, steps: float, alpha: float, exponent: float) -> None:
        self.init_value, self.steps, self.alpha, self.exponent = init_value, steps, alpha, exponent

    def __call__(self, step: Step) -> float:
        count = min(_step(step), self.steps)
        cosine = 0.5 * (1 + math.cos(math.pi * count / self.steps))
        return self.init_value * ((1 - self.alpha) * cosine ** self.exponent + self.alpha)


def polynomial_schedule(init_value: float, end_value: float, power: float,
                        transition_steps: float, transition_begin: float = 0) -> Schedule:
    r"""Polynomial transition from ``init_value`` (I) to ``end_value`` (E), as optax's.

    With B = ``transition_begin``, T = ``transition_steps``, P = ``power``:

    .. math:: \eta_t = (I - E)\left(1 - \frac{\min(\max(t - B, 0), T)}{T}\right)^P + E

    i.e. I before B, E from B + T on. As in optax, ``transition_steps <= 0``
    disables the transition: the schedule is the constant ``init_value``.
    ``power`` >= 0; ``transition_begin`` >= 0 (optax silently uses 0 for a
    negative one; here it is an error).
    """
    i0, e0 = _rate("init_value", init_value), _rate("end_value", end_value)
    p = _nonneg("power", power)
    steps = _real("transition_steps", transition_steps)
    begin = _count("transition_begin", transition_begin)
    name = "polynomial_schedule(" + _args(init_value=init_value, end_value=end_value, power=power,
                                          transition_steps=transition_steps,
                                          transition_begin=transition_begin) + ")"
    if steps <= 0:
        return _named(_Constant(i0), name)
    if isinstance(transition_steps, numbers.Integral):
        steps = int(transition_steps)
    return _named(_Polynomial(i0, e0, p, steps, begin), name)


def linear_schedule(init_value: float, end_value: float, transition_steps: float,
                    transition_begin: float = 0) -> Schedule:
    r"""Linear transition from I = ``init_value`` to E = ``end_value``, as optax's:
    :func:`polynomial_schedule` with power 1,

    .. math:: \eta_t = (I - E)\left(1 - \frac{\min(\max(t - B, 0), T)}{T}\right) + E

    (I before B = ``transition_begin``, E from B + T on, T = ``transition_steps``;
    T <= 0: the constant I).
    """
    return _named(polynomial_schedule(init_value=init_value, end_value=end_value, power=1,
                                      transition_steps=transition_steps,
                                      transition_begin=transition_begin),
                  "linear_schedule(" + _args(init_value=init_value, end_value=end_value,
                                             transition_steps=transition_steps,
                                             transition_begin=transition_begin) + ")")


def exponential_decay(init_value: float, transition_steps: float, decay_rate: float,
                      transition_begin: float = 0, staircase: bool = False,
                      end_value: float | None = None) -> Schedule:
    r"""Exponential decay, continuous or staircase, as optax's.

    With B = ``transition_begin``, T = ``transition_steps``, r = ``decay_rate``:

    .. math:: p = (t - B) / T \ (\lfloor (t - B)/T \rfloor \text{ if staircase}), \qquad
              \eta_t = \eta_0 \text{ if } t \le B \text{, else } \eta_0\, r^{p}

    then, if ``end_value`` is given, clipped to it: :math:`\max(\eta_t, \text{end})` when
    r < 1 (a lower bound), :math:`\min(\eta_t, \text{end})` when r >= 1 (an upper bound).
    ``transition_steps`` must be > 0 and ``decay_rate`` > 0 (optax documents both;
    its code turns them into a constant schedule instead), ``transition_begin`` >= 0.
    """
    v0 = _rate("init_value", init_value)
    steps = _positive("transition_steps", transition_steps)
    r = _real("decay_rate", decay_rate)
    if not 0.0 < r < math.inf:
        raise ValueError(f"decay_rate: must be a finite number > 0, got {decay_rate!r}")
    begin = _count("transition_begin", transition_begin)
    stair = bool(staircase)
    end = None if end_value is None else _rate("end_value", end_value)
    sched = _ExponentialDecay(v0, steps, r, begin, stair, end)
    return _named(sched, "exponential_decay(" + _args(
        init_value=init_value, transition_steps=transition_steps, decay_rate=decay_rate,
        transition_begin=transition_begin, staircase=staircase, end_value=end_value) + ")")


def cosine_decay_schedule(init_value: float, decay_steps: float, alpha: float = 0.0,
                          exponent: float = 1.0) -> Schedule:
    r"""Cosine decay, as optax's. With T = ``decay_steps``, p = ``exponent``:

    .. math:: \eta_t = I \left[(1 - \alpha)\left(\tfrac12\left(1 +
              \cos\frac{\pi \min(t, T)}{T}\right)\right)^p + \alpha\right]

    from I = ``init_value`` down to :math:`\alpha I`, held from T on.
    ``decay_steps`` > 0 (optax's check), ``alpha`` >= 0, ``exponent`` >= 0.
    """
    v0 = _rate("init_value", init_value)
    steps = _positive("decay_steps", decay_steps)
    a = _rate("alpha", alpha)
    e = _nonneg("exponent", exponent)
    steps = float(steps)
    return _named(_CosineDecay(v0, steps, a, e), "cosine_decay_schedule(" + _args(
        init_value=init_value, decay_steps=decay_steps, alpha=alpha, exponent=exponent) + ")")


def warmup_constant_schedule(init_value: float, peak_value: float, warmup_steps: float) -> Schedule:
    r"""Linear warmup from ``init_value`` to ``peak_value`` over ``warmup_steps`` steps,
    then constant, as optax's (:func:`linear_schedule`):

    .. math:: \eta_t = (I - P)\left(1 - \frac{\min(t, W)}{W}\right) + P .

    As in optax, ``warmup_steps`` = 0 gives the constant ``init_value``.
    """
    _count("warmup_steps", warmup_steps)
    _rate("peak_value", peak_value)
    return _named(linear_schedule(init_value=init_value, end_value=peak_value,
                                  transition_steps=warmup_steps),
                  "warmup_constant_schedule(" + _args(init_value=init_value, peak_value=peak_value,
                                                      warmup_steps=warmup_steps) + ")")
