r"""Learning-rate schedules: functions of the step ``t`` returning the rate.

Each function here builds a callable ``schedule(t) -> float``. Pass one as
an optimizer's ``lr`` (in the constructor or a param group): the optimizer calls
it with the number of updates already made to that group, so the first update
uses ``schedule(0)`` (optax's convention). ``t`` may be an int, a NumPy integer or
a float, and must be >= 0. A schedule is a small object, not a closure: it
pickles and deep-copies (so does an optimizer state_dict holding it as ``lr``), and
its repr is the call that built it, e.g. ``cosine_decay_schedule(init_value=0.1, ...)``.

Two families, in one namespace (modules: ``lectures``, ``_optax``, ``_join``,
``_onecycle``, ``plot``; ``_checks`` and ``_base`` hold what they share):

* the lectures' schedules: :func:`constant_schedule`,
  :func:`piecewise_constant_schedule` (list form), :func:`step_decay_schedule`,
  :func:`exponential_time_decay_schedule`, :func:`inverse_time_decay_schedule`,
  :func:`inverse_linear_decay_schedule`, :func:`inverse_quadratic_decay_schedule`;
* optax's schedule functions, with optax's names, arguments, defaults and
  arithmetic (``optax.schedules``): :func:`constant_schedule`,
  :func:`exponential_decay`, :func:`piecewise_constant_schedule` (dict form),
  :func:`polynomial_schedule`, :func:`linear_schedule`,
  :func:`cosine_decay_schedule`, :func:`warmup_cosine_decay_schedule`,
  :func:`warmup_constant_schedule`, :func:`warmup_exponential_decay_schedule`,
  :func:`piecewise_interpolate_schedule`, :func:`linear_onecycle_schedule`,
  :func:`cosine_onecycle_schedule`, :func:`sgdr_schedule`, :func:`join_schedules`.

Values are computed in float64 Python arithmetic (optax computes in JAX's
float32 by default). Bad arguments raise ValueError or TypeError naming the
argument when the schedule is built, never when it is called.
:func:`plot_schedules` draws schedules to a PNG (needs matplotlib).

The torch-style classes that step an optimizer's ``param_groups`` instead are in
:mod:`fusedoptim.lr_scheduler`.
"""
from __future__ import annotations

from ._join import (join_schedules, sgdr_schedule, warmup_cosine_decay_schedule,
                    warmup_exponential_decay_schedule)
from ._onecycle import (cosine_onecycle_schedule, linear_onecycle_schedule,
                        piecewise_interpolate_schedule)
from ._optax import (cosine_decay_schedule, exponential_decay, linear_schedule,
                     polynomial_schedule, warmup_constant_schedule)
from .lectures import (constant_schedule, exponential_time_decay_schedule,
                       inverse_linear_decay_schedule, inverse_quadratic_decay_schedule,
                       inverse_time_decay_schedule, piecewise_constant_schedule,
                       step_decay_schedule)
from .plot import plot_schedules

__all__ = [
    # the lectures'
    "constant_schedule", "piecewise_constant_schedule", "step_decay_schedule",
    "exponential_time_decay_schedule", "inverse_time_decay_schedule",
    "inverse_linear_decay_schedule", "inverse_quadratic_decay_schedule",
    # optax's
    "exponential_decay", "polynomial_schedule", "linear_schedule", "cosine_decay_schedule",
    "warmup_cosine_decay_schedule", "warmup_constant_schedule",
    "warmup_exponential_decay_schedule", "piecewise_interpolate_schedule",
    "linear_onecycle_schedule", "cosine_onecycle_schedule", "sgdr_schedule", "join_schedules",
    # drawing
    "plot_schedules",
]
