r"""optax's piecewise interpolated schedule (linear or cosine pieces) and the one-cycle
schedules built on it."""
from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable

from .._typing import Step
from ._base import Schedule, _args, _named
from ._checks import Scales, _pct, _positive, _rate, _real, _scales, _step


class _PiecewiseInterpolate(Schedule):
    """interp(values[i], values[i + 1], x) on [bounds[i], bounds[i + 1]), values[-1] after."""

    def __init__(self, interp: Callable[[float, float, float], float], bounds: list[float],
                 values: list[float]) -> None:
        self.interp, self.bounds, self.values = interp, bounds, values

    def __call__(self, step: Step) -> float:
        t, bounds, values = _step(step), self.bounds, self.values
        last = len(bounds) - 1
        if t >= bounds[last]:
            return values[last]
        i = bisect_right(bounds, t) - 1
        pct = (t - bounds[i]) / max(bounds[i + 1] - bounds[i], 1)
        return self.interp(values[i], values[i + 1], pct)


def _linear_interpolate(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def _cosine_interpolate(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def piecewise_interpolate_schedule(interpolate_type: str, init_value: float,
                                   boundaries_and_scales: Scales | None = None) -> Schedule:
    r"""Piecewise interpolated schedule with linear or cosine pieces, as optax's.

    With sorted boundaries :math:`b_1 < \dots < b_n`, :math:`b_0 = 0`, and the
    accumulated values :math:`v_0 = I`, :math:`v_i = v_{i-1} s_i`:

    .. math:: \eta_t = f(v_i, v_{i+1}, (t - b_i) / \max(b_{i+1} - b_i, 1))
              \text{ for } b_i \le t < b_{i+1}, \qquad \eta_t = v_n \text{ for } t \ge b_n,

    with :math:`f(a, b, x) = (b - a)x + a` (``'linear'``) or
    :math:`b + \frac{a - b}{2}(\cos \pi x + 1)` (``'cosine'``). Scales >= 0.
    """
    if interpolate_type == "linear":
        interp = _linear_interpolate
    elif interpolate_type == "cosine":
        interp = _cosine_interpolate
    else:
        raise ValueError(f"interpolate_type: must be either 'cosine' or 'linear', got "
                         f"{interpolate_type!r}")
    v0 = _rate("init_value", init_value)
    pairs = _scales("boundaries_and_scales", boundaries_and_scales)
    bounds = [0] + [b for b, _ in pairs]
    values = [v0]
    for _, s in pairs:
        values.append(values[-1] * s)
    return _named(_PiecewiseInterpolate(interp, bounds, values),
                  "piecewise_interpolate_schedule(" + _args(
                      interpolate_type=interpolate_type, init_value=init_value,
                      boundaries_and_scales=boundaries_and_scales) + ")")


def _onecycle_checks(kind: str, transition_steps: float, peak_value: float, pct_start: float,
                     div_factor: float, final_div_factor: float) -> None:
    steps = _real("transition_steps", transition_steps)
    if not 0 < steps < math.inf:
        raise ValueError(f"transition_steps: a {kind} onecycle schedule needs a finite number > 0, "
                         f"got {transition_steps!r}")
    _rate("peak_value", peak_value)
    _pct("pct_start", pct_start)
    _positive("div_factor", div_factor)
    _positive("final_div_factor", final_div_factor)


def linear_onecycle_schedule(transition_steps: float, peak_value: float, pct_start: float = 0.3,
                             pct_final: float = 0.85, div_factor: float = 25.0,
                             final_div_factor: float = 1e4) -> Schedule:
    r"""Three linear phases, as optax's (:func:`piecewise_interpolate_schedule`):

    from :math:`P/d` up to P = ``peak_value`` over ``[0, int(pct_start T))``, back down
    to :math:`P/d` until ``int(pct_final T)``, then to :math:`P/(d f)` at T =
    ``transition_steps``, held after (d = ``div_factor``, f = ``final_div_factor``):
    boundaries and scales ``{int(pct_start T): d, int(pct_final T): 1/d, T: 1/f}``.
    ``pct_start`` in (0, 1), ``pct_start`` < ``pct_final`` <= 1.
    """
    _onecycle_checks("linear", transition_steps, peak_value, pct_start, div_factor,
                     final_div_factor)
    final = _real("pct_final", pct_final)
    if not pct_start < final <= 1.0:
        raise ValueError(f"pct_final: must be in (pct_start, 1] = ({pct_start!r}, 1], got "
                         f"{pct_final!r}")
    sched = piecewise_interpolate_schedule(
        "linear", peak_value / div_factor,
        {int(pct_start * transition_steps): div_factor,
         int(pct_final * transition_steps): 1.0 / div_factor,
         transition_steps: 1.0 / final_div_factor})
    return _named(sched, "linear_onecycle_schedule(" + _args(
        transition_steps=transition_steps, peak_value=peak_value, pct_start=pct_start,
        pct_final=pct_final, div_factor=div_factor, final_div_factor=final_div_factor) + ")")


def cosine_onecycle_schedule(transition_steps: float, peak_value: float, pct_start: float = 0.3,
                             div_factor: float = 25.0, final_div_factor: float = 1e4) -> Schedule:
    r"""The one-cycle schedule with cosine pieces, as optax's
    (:func:`piecewise_interpolate_schedule` ``'cosine'``):

    from :math:`P/d` up to P = ``peak_value`` at ``int(pct_start T)``, then down to
    :math:`P/(d f)` at T = ``transition_steps``, held after: boundaries and scales
    ``{int(pct_start T): d, int(T): 1/(d f)}``, each piece
    :math:`b + \frac{a - b}{2}(\cos \pi x + 1)`. ``pct_start`` in (0, 1).
    """
    _onecycle_checks("cosine", transition_steps, peak_value, pct_start, div_factor,
                     final_div_factor)
    sched = piecewise_interpolate_schedule(
        "cosine", peak_value / div_factor,
        {int(pct_start * transition_steps): div_factor,
         int(transition_steps): 1.0 / (div_factor * final_div_factor)})
    return _named(sched, "cosine_onecycle_schedule(" + _args(
        transition_steps=transition_steps, peak_value=peak_value, pct_start=pct_start,
        div_factor=div_factor, final_div_factor=final_div_factor) + ")")
