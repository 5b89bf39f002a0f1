"""Cyclical schedules that also cycle the momentum: CyclicLR and OneCycleLR, as torch's.

With ``cycle_momentum=True`` they write ``param_groups[i]["momentum"]`` (SGD,
RMSprop) or ``param_groups[i]["betas"][0]`` (Adam, AdamW), inversely to the lr.
"""
from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from .._typing import StateDict
from ..optim.base import Optimizer
from ._base import (LRScheduler, _is_function, check_optimizer, format_param, positive, real,
                    set_values, warn_get_lr_outside_step)


def _momentum_key(optimizer: Optimizer) -> bool:
    """True if the optimizer's momentum is betas[0], False if it is "momentum"."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError("optimizer must support momentum or beta1 with `cycle_momentum` "
                         "option enabled")
    return "betas" in optimizer.defaults


def _set_momentum(group: dict[str, Any], use_beta1: bool, momentum: float) -> None:
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _start_momentum_cycle(optimizer: Optimizer, use_beta1: bool, max_momentums: Sequence[float],
                          base_momentums: Sequence[float]) -> None:
    """A fresh cycle starts at the maximal momentum; the group keeps both bounds, as torch's."""
    for m, b, group in zip(max_momentums, base_momentums, optimizer.param_groups):
        _set_momentum(group, use_beta1, m)
        group["max_momentum"] = m
        group["base_momentum"] = b


class CyclicLR(LRScheduler):
    r"""Cyclical learning rate (CLR) between ``base_lr`` and ``max_lr``, as torch's.

    Per step, with :math:`S = \text{up} + \text{down}`, cycle
    :math:`c = \lfloor 1 + t/S \rfloor`, :math:`x = 1 + t/S - c` and
    :math:`r = \text{up}/S`: the scale is :math:`x/r` while :math:`x \le r`, else
    :math:`(x-1)/(r-1)`, and

    .. math:: \eta_t = \text{base} + (\text{max} - \text{base})\cdot\text{scale}\cdot f(\cdot)

    with f = 1 (``'triangular'``), :math:`1/2^{c-1}` (``'triangular2'``),
    :math:`\gamma^t` (``'exp_range'``) or ``scale_fn`` (of c or t by ``scale_mode``).
    Momentum goes the other way, from ``max_momentum`` to ``base_momentum``.
    Step it after every batch. ``step_size_up``, ``step_size_down`` > 0; rates,
    momenta and ``gamma`` finite and >= 0.
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | Sequence[float],
                 max_lr: float | Sequence[float], step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular", gamma: float = 1.0,
                 scale_fn: Callable[[float], float] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float | Sequence[float] = 0.8,
                 max_momentum: float | Sequence[float] = 0.9, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = format_param("base_lr", optimizer, base_lr)
        self.max_lrs = format_param("max_lr", optimizer, max_lr)
        up = positive("step_size_up", step_size_up)
        down = positive("step_size_down", step_size_down) if step_size_down is not None else up
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"scale_fn: expected a callable or None, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"scale_mode: must be 'cycle' or 'iterations', got {scale_mode!r}")
        if not 0.0 <= real("gamma", gamma) < math.inf:
            raise ValueError(f"gamma: must be a finite number >= 0, got {gamma!r}")
        if cycle_momentum:
            use_beta1 = _momentum_key(optimizer)
            base_momentums = format_param("base_momentum", optimizer, base_momentum)
            max_momentums = format_param("max_momentum", optimizer, max_momentum)
        # Everything checked: write into the param groups.
        if last_epoch == -1:
            set_values(optimizer, "lr", base_lrs)
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = use_beta1
            self.base_momentums = base_momentums
            self.max_momentums = max_momentums
            if last_epoch == -1:
                _start_momentum_cycle(optimizer, use_beta1, max_momentums, base_momentums)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref = self._triangular_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref = self._triangular2_scale_fn
            self.scale_mode = "cycle"
        elif self.mode == "exp_range":
            self._scale_fn_ref = partial(self._exp_range_scale_fn, self.gamma)
            self.scale_mode = "iterations"

    def scale_fn(self, x: float) -> float:
        """The amplitude scaling of the policy at x (the cycle or the iteration)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    @staticmethod
    def _triangular_scale_fn(x: float) -> float:
        return 1.0

    @staticmethod
    def _triangular2_scale_fn(x: float) -> float:
        return 1 / (2.0 ** (x - 1))

    @staticmethod
    def _exp_range_scale_fn(gamma: float, x: float) -> float:
        return gamma ** x

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [base_lr + (max_lr - base_lr) * scale_factor * self.scale_fn(at)
               for base_lr, max_lr in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for b, m, group in zip(self.base_momentums, self.max_momentums,
                                   self.optimizer.param_groups):
                _set_momentum(group, self.use_beta1, m - (m - b) * scale_factor * self.scale_fn(at))
        return lrs

    _not_state: tuple[str, ...] = ("optimizer", "_scale_fn_ref", "_scale_fn_custom")

    def state_dict(self) -> StateDict:
        """The state; a custom ``scale_fn`` is saved only if it is a callable object
        (its ``__dict__``), not a function (torch's rule)."""
        state = super().state_dict()
        fn = self._scale_fn_custom
        state["_scale_fn_custom"] = (None if fn is None or _is_function(fn)
                                     else copy.deepcopy(fn.__dict__))
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        fn = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(copy.deepcopy(fn))
        self._init_scale_fn()


_TWO_PHASES = (("initial_lr", "max_lr", "max_momentum", "base_momentum"),
               ("max_lr", "min_lr", "base_momentum", "max_momentum"))
_THREE_PHASES = (("initial_lr", "max_lr", "max_momentum", "base_momentum"),
                 ("max_lr", "initial_lr", "base_momentum", "max_momentum"),
                 ("initial_lr", "min_lr", "max_momentum", "max_momentum"))


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy, as torch's: the lr goes from ``max_lr / div_factor`` up to
    ``max_lr`` over the first ``pct_start`` of ``total_steps``, then down to
    ``initial_lr / final_div_factor`` (``three_phase``: back to the initial lr
    first, then down), with cosine (:math:`e + \frac{s - e}{2}(1 + \cos \pi p)`) or
    linear (:math:`(e - s)p + s`) pieces; the momentum goes the other way between
    ``max_momentum`` and ``base_momentum``. Step it after every batch, at most
    ``total_steps`` times.

    ``total_steps`` (or ``epochs`` and ``steps_per_epoch``): ints > 0; ``pct_start``
    in (0, 1); ``max_lr`` and momenta >= 0; ``div_factor``, ``final_div_factor`` > 0.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float],
                 total_steps: int | None = None, epochs: int | None = None,
                 steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85,
                 max_momentum: float | Sequence[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not _positive_int(total_steps):
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            if not _positive_int(epochs):
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not _positive_int(steps_per_epoch):
                raise ValueError(f"Expected positive integer steps_per_epoch, but got "
                                 f"{steps_per_epoch}")
            self.total_steps = int(epochs) * int(steps_per_epoch)
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        pct = real("pct_start", pct_start)
        if not 0.0 < pct < 1.0:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        positive("div_factor", div_factor)
        positive("final_div_factor", final_div_factor)
        max_lrs = format_param("max_lr", optimizer, max_lr)
        if cycle_momentum:
            use_beta1 = _momentum_key(optimizer)
            max_momentums = format_param("max_momentum", optimizer, max_momentum)
            base_momentums = format_param("base_momentum", optimizer, base_momentum)
        # Everything checked: write into the param groups.
        n = self.total_steps
        ends = ([float(pct_start * n) - 1, float(2 * pct_start * n) - 2, n - 1] if three_phase
                else [float(pct_start * n) - 1, n - 1])
        self._schedule_phases: list[dict[str, Any]] = [
            {"end_step": end, "start_lr": a, "end_lr": b, "start_momentum": c, "end_momentum": d}
            for end, (a, b, c, d) in zip(ends, _THREE_PHASES if three_phase else _TWO_PHASES)]
        self._anneal_func_type = anneal_strategy
        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = use_beta1
            if last_epoch == -1:
                _start_momentum_cycle(optimizer, use_beta1, max_momentums, base_momentums)
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _annealing_cos(start: float, end: float, pct: float) -> float:
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    @staticmethod
    def _annealing_linear(start: float, end: float, pct: float) -> float:
        return (end - start) * pct + start

    def _anneal_func(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return self._annealing_cos(start, end, pct)
        return self._annealing_linear(start, end, pct)

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"Tried to step {step_num} times. The specified number of total "
                             f"steps is {self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == last:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lrs.append(self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]],
                                                 pct))
                    if self.cycle_momentum:
                        _set_momentum(group, self.use_beta1, self._anneal_func(
                            group[phase["start_momentum"]], group[phase["end_momentum"]], pct))
                    break
                start_step = phase["end_step"]
        return lrs


def _positive_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) \
        and value > 0  # type: ignore[operator]  # an Integral compares with an int
