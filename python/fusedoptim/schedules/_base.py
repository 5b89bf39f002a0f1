"""The base class of every schedule: a small object with ``__call__`` rather than a
closure, so that a schedule pickles (an optimizer's state_dict holding one as ``lr``
can be saved) and deep-copies; its repr is the call that built it."""
from __future__ import annotations

import math
from typing import Any

from .._typing import Step


class Schedule:
    """``schedule(t)``: the learning rate after t updates (t >= 0).

    Subclasses keep only plain data (numbers, lists, other schedules) in their
    attributes, so that pickle and copy.deepcopy work on them.
    """

    _text = "schedule"

    def __call__(self, step: Step) -> float:  # pragma: no cover - every schedule defines its own
        raise NotImplementedError

    def __repr__(self) -> str:
        return self._text


def _named(schedule: Schedule, text: str) -> Schedule:
    """Give the schedule a readable repr: ``cosine_decay_schedule(init_value=0.1, ...)``."""
    schedule._text = text
    return schedule


def _args(**kw: Any) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def _scaled(value: float, base: float, exponent: float) -> float:
    """``value * base ** exponent`` in IEEE arithmetic, as optax's float math: inf past the
    float range, where Python's float power raises OverflowError (an optimizer then refuses
    the non-finite rate at that step, naming it; a ceiling such as ``end_value`` still
    applies), and 0 for a value of 0 (not 0 * inf)."""
    if value == 0:
        return value
    try:
        return value * base ** exponent
    except OverflowError:
        return math.copysign(math.inf, value)
