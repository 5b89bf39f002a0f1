"""The schedulers that multiply the lr by a factor: LambdaLR, MultiplicativeLR,
StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR.

Each ``get_lr`` is torch's recursive form (from the current lr) and each
``_get_closed_form_lr`` torch's closed form (from ``base_lrs``), with torch's
operations in torch's order: the values are the same floats.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable

from ..optim.base import Optimizer
from ._base import (LRScheduler, _LambdaState, check_optimizer, group_values, increasing,
                    integer, rate, real, warn_get_lr_outside_step)


class LambdaLR(_LambdaState, LRScheduler):
    r"""lr = initial lr times a function of the epoch, as torch's:
    :math:`\eta_t = \eta_0 \cdot \lambda(t)`.

    ``lr_lambda``: a function of the epoch, or a list with one per param group.
    """

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        return [base_lr * fn(self.last_epoch)
                for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    r"""Multiply the lr by a function of the epoch at each step, as torch's:
    :math:`\eta_t = \eta_{t-1} \cdot \lambda(t)` (:math:`\eta_0` unchanged)."""

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * fn(self.last_epoch)
                for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)]


class StepLR(LRScheduler):
    r"""Decay the lr by ``gamma`` every ``step_size`` epochs, as torch's:
    :math:`\eta_t = \eta_0 \gamma^{\lfloor t / \text{step\_size} \rfloor}`.

    ``step_size``: an int > 0; ``gamma`` >= 0.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.step_size = integer("step_size", step_size, 1)
        rate("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size)
                for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    r"""Decay the lr by ``gamma`` at each milestone, as torch's:
    :math:`\eta_t = \eta_0 \gamma^{\#\{m_i \le t\}}`.

    ``milestones``: epoch indices >= 0, strictly increasing (torch's documented
    requirement, checked here); ``gamma`` >= 0.
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.milestones = Counter(increasing("milestones", milestones))
        rate("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        if self.last_epoch not in self.milestones:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch]
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch)
                for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    r"""lr times ``factor`` for the first ``total_iters`` epochs, then the lr, as torch's:
    :math:`\eta_t = \eta_0 (\text{factor} + [t \ge \text{total\_iters}](1 - \text{factor}))`.

    ``factor`` in (0, 1]; ``total_iters``: an int >= 1.
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        f = real("factor", factor)
        if f > 1.0 or f < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        if f == 0:  # torch accepts it, then divides by it at total_iters
            raise ValueError("factor: must be > 0 (the lr is divided by it at total_iters)")
        self.factor = factor
        self.total_iters = integer("total_iters", total_iters, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    r"""Multiply the lr by a factor going linearly from ``start_factor`` to ``end_factor``
    over ``total_iters`` epochs, as torch's:

    .. math:: \eta_t = \eta_0 \left(s + (e - s)\frac{\min(t, T)}{T}\right)

    ``start_factor`` in (0, 1], ``end_factor`` in [0, 1], ``total_iters``: an int >= 1.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        s, e = real("start_factor", start_factor), real("end_factor", end_factor)
        if s > 1.0 or s <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and "
                             "less or equal to 1.")
        if e > 1.0 or e < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = integer("total_iters", total_iters, 1)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        s, e = self.start_factor, self.end_factor
        return [group["lr"]
                * (1.0 + (e - s) / (self.total_iters * s + (self.last_epoch - 1) * (e - s)))
                for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        s, e = self.start_factor, self.end_factor
        return [base_lr * (s + (e - s) * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    r"""Decay the lr by ``gamma`` every epoch, as torch's: :math:`\eta_t = \eta_0 \gamma^t`,
    ``gamma`` >= 0."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        rate("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        if self._is_initial:
            return group_values(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    r"""Polynomial decay to 0 over ``total_iters`` epochs, as torch's:
    :math:`\eta_t = \eta_0 (1 - \min(t, T)/T)^{\text{power}}`.

    ``total_iters``: an int >= 1; ``power`` >= 0.
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.total_iters = integer("total_iters", total_iters, 1)
        rate("power", power)
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        warn_get_lr_outside_step(self)
        if self._is_initial or self.last_epoch > self.total_iters:
            return group_values(self.optimizer, "lr")
        decay_factor = ((1.0 - self.last_epoch / self.total_iters)
                        / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power
        return [group["lr"] * decay_factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters)
                ** self.power for base_lr in self.base_lrs]
