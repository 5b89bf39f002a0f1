r"""Schedules run one after another, as optax's: :func:`join_schedules`, and what is
built on it: the warmups followed by a decay, and SGDR's warm restarts."""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .._typing import Step
from ._base import Schedule, _args, _named
from ._checks import _count, _increasing, _rate, _real, _step
from ._optax import cosine_decay_schedule, exponential_decay, linear_schedule


class _Join(Schedule):
    """schedules[i] from bounds[i - 1] on, counting its steps from there."""

    def __init__(self, schedules: Sequence[Callable[[float], float]], bounds: list[float]) -> None:
        self.schedules, self.bounds = schedules, bounds

    def __call__(self, step: Step) -> float:
        t = _step(step)
        i = bisect_right(self.bounds, t)
        fns = self.schedules
        return float(fns[0](t) if i == 0 else fns[i](t - self.bounds[i - 1]))


def join_schedules(schedules: Sequence[Callable[[float], float]],
                   boundaries: Sequence[float]) -> Schedule:
    r"""Run ``schedules`` one after another, as optax's.

    With boundaries :math:`b_1 < \dots < b_n` (n = len(schedules) - 1):
    :math:`\eta_t = s_0(t)` for :math:`t < b_1` and :math:`\eta_t = s_i(t - b_i)` for
    :math:`b_i \le t < b_{i+1}`: each schedule counts its steps from its own boundary.
    Boundaries must be >= 0 and strictly increasing.
    """
    if isinstance(schedules, Mapping) or not hasattr(schedules, "__iter__"):
        raise TypeError(f"schedules: expected a list of callables, got {type(schedules).__name__}")
    fns = list(schedules)
    if not fns:
        raise ValueError("schedules: expected at least one schedule")
    for i, fn in enumerate(fns):
        if not callable(fn):
            raise TypeError(f"schedules[{i}]: expected a callable step -> value, got "
                            f"{type(fn).__name__}")
    bounds = _increasing("boundaries", boundaries)
    if len(bounds) != len(fns) - 1:
        raise ValueError(f"boundaries: {len(fns)} schedules need {len(fns) - 1} boundaries, "
                         f"got {len(bounds)}")
    return _named(_Join(fns, bounds),
                  f"join_schedules({len(fns)} schedules, boundaries={bounds!r})")


def warmup_cosine_decay_schedule(init_value: float, peak_value: float, warmup_steps: float,
                                 decay_steps: float, end_value: float = 0.0,
                                 exponent: float = 1.0) -> Schedule:
    r"""Linear warmup then cosine decay, as optax's.

    With I, P, E = ``init_value``, ``peak_value``, ``end_value``, W = ``warmup_steps``,
    D = ``decay_steps`` (the total length, warmup included), :math:`\alpha = E / P`
    (0 if P = 0):

    .. math:: \eta_t = (I - P)(1 - t/W) + P \quad (t < W), \qquad
              \eta_t = P\left[(1-\alpha)\left(\tfrac12\left(1 + \cos\frac{\pi \min(t - W, D - W)}
              {D - W}\right)\right)^{p} + \alpha\right] \quad (t \ge W).

    ``warmup_steps`` >= 0, ``decay_steps`` > ``warmup_steps``.
    """
    w = _count("warmup_steps", warmup_steps)
    peak = _rate("peak_value", peak_value)
    end = _rate("end_value", end_value)
    d = _real("decay_steps", decay_steps)
    if not d > w:
        raise ValueError(f"decay_steps: must be > warmup_steps ({warmup_steps!r}), it includes "
                         f"the warmup; got {decay_steps!r}")
    alpha = 0.0 if peak == 0.0 else end / peak
    joined = join_schedules(
        [linear_schedule(init_value=init_value, end_value=peak_value, transition_steps=w),
         cosine_decay_schedule(init_value=peak_value, decay_steps=decay_steps - warmup_steps,
                               alpha=alpha, exponent=exponent)],
        [w])
    return _named(joined, "warmup_cosine_decay_schedule(" + _args(
        init_value=init_value, peak_value=peak_value, warmup_steps=warmup_steps,
        decay_steps=decay_steps, end_value=end_value, exponent=exponent) + ")")


def warmup_exponential_decay_schedule(init_value: float, peak_value: float, warmup_steps: float,
                                      transition_steps: float, decay_rate: float,
                                      transition_begin: float = 0, staircase: bool = False,
                                      end_value: float | None = None) -> Schedule:
    r"""Linear warmup to ``peak_value`` over ``warmup_steps``, then
    :func:`exponential_decay` from ``peak_value`` counted from the end of the warmup,
    as optax's:

    .. math:: \eta_t = (I - P)(1 - t/W) + P \quad (t < W), \qquad
              \eta_t = \text{exponential\_decay}(P, \dots)(t - W) \quad (t \ge W).
    """
    w = _count("warmup_steps", warmup_steps)
    _rate("peak_value", peak_value)
    joined = join_schedules(
        [linear_schedule(init_value=init_value, end_value=peak_value, transition_steps=w),
         exponential_decay(init_value=peak_value, transition_steps=transition_steps,
                           decay_rate=decay_rate, transition_begin=transition_begin,
                           staircase=staircase, end_value=end_value)],
        [w])
    return _named(joined, "warmup_exponential_decay_schedule(" + _args(
        init_value=init_value, peak_value=peak_value, warmup_steps=warmup_steps,
        transition_steps=transition_steps, decay_rate=decay_rate,
        transition_begin=transition_begin, staircase=staircase, end_value=end_value) + ")")


def sgdr_schedule(cosine_kwargs: Iterable[Mapping[str, Any]]) -> Schedule:
    r"""SGD with warm restarts, as optax's: :func:`warmup_cosine_decay_schedule` cycles
    joined end to end.

    ``cosine_kwargs``: an iterable of dicts, each the arguments of one
    :func:`warmup_cosine_decay_schedule`; cycle k lasts its ``decay_steps`` D_k and
    starts at :math:`D_0 + \dots + D_{k-1}`, where the step count restarts at 0.
    """
    if isinstance(cosine_kwargs, Mapping) or not hasattr(cosine_kwargs, "__iter__"):
        raise TypeError("cosine_kwargs: expected an iterable of dicts of "
                        "warmup_cosine_decay_schedule arguments")
    schedules, boundaries, step = [], [], 0
    for i, kwargs in enumerate(cosine_kwargs):
        if not isinstance(kwargs, Mapping) or "decay_steps" not in kwargs:
            raise TypeError(f"cosine_kwargs[{i}]: expected a dict of warmup_cosine_decay_schedule "
                            "arguments, with decay_steps")
        try:
            schedules.append(warmup_cosine_decay_schedule(**kwargs))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"cosine_kwargs[{i}]: {exc}") from None
        step += kwargs["decay_steps"]
        boundaries.append(step)
    if not schedules:
        raise ValueError("cosine_kwargs: expected at least one cycle")
    return _named(join_schedules(schedules, boundaries[:-1]),
                  f"sgdr_schedule({len(schedules)} cycles, restarts at {boundaries[:-1]!r})")
