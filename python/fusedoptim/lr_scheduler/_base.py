"""LRScheduler, the base of the torch-named schedulers, and the checks they share.

The arithmetic, the attributes and the state_dict contents follow
torch.optim.lr_scheduler (torch 2.13) so that the values are the same floats.
"""
from __future__ import annotations

import copy
import math
import numbers
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._typing import LRSchedule, StateDict
from ..optim.base import Optimizer
from ..schedules._checks import _rate as rate  # noqa: F401  (re-exported to the schedulers)
from ..schedules._checks import _real as real

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated where "
    "possible. Please use `scheduler.step()` to step the scheduler. During the deprecation, if "
    "epoch is different from None, the closed form is used instead of the new chainable form, "
    "where available."
)


# ----------------------------------------------------------------------- checks
def check_optimizer(optimizer: Any) -> Optimizer:
    """TypeError unless ``optimizer`` is a fusedoptim optimizer with numeric lrs."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer: expected a fusedoptim optimizer (fusedoptim.optim.Optimizer), "
                        f"got {type(optimizer).__name__}")
    for i, group in enumerate(optimizer.param_groups):
        if callable(group.get("lr")):
            raise TypeError(f"optimizer.param_groups[{i}]['lr'] is a schedule (a callable): the "
                            "torch-style schedulers set a number there; give the optimizer a "
                            "numeric lr, or use the callable schedule alone")
    return optimizer


def positive(name: str, value: Any) -> float:
    v = real(name, value)
    if not 0.0 < v < math.inf:
        raise ValueError(f"{name}: must be a finite number > 0, got {value!r}")
    return v


def integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: must be >= {minimum}, got {value!r}")
    return int(value)


def increasing(name: str, values: Any, minimum: int = 0) -> list[int]:
    """Milestones: ints >= minimum, strictly increasing."""
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name}: expected a list of ints, got {type(values).__name__}")
    out = [integer(f"{name}[{i}]", m, minimum) for i, m in enumerate(values)]
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            raise ValueError(f"{name}: must be strictly increasing, got {out[i - 1]} then "
                             f"{out[i]} at index {i}")
    return out


def format_param(name: str, optimizer: Optimizer, param: Any,
                 check: Callable[[str, Any], float] = rate) -> list[Any]:
    """One value per param group: a list of that length, or one value for all (torch's)."""
    if isinstance(param, (list, tuple)):
        if len(param) != len(optimizer.param_groups):
            raise ValueError(f"{name} must have the same length as optimizer.param_groups. {name} "
                             f"has {len(param)} values, param_groups has "
                             f"{len(optimizer.param_groups)}.")
        for i, p in enumerate(param):
            check(f"{name}[{i}]", p)
        return list(param)
    check(name, param)
    return [param] * len(optimizer.param_groups)


def group_values(optimizer: Optimizer, key: str) -> list[Any]:
    return [group[key] for group in optimizer.param_groups]


def set_values(optimizer: Optimizer, key: str, values: Sequence[Any]) -> None:
    groups = optimizer.param_groups
    if len(values) != len(groups):
        raise ValueError(f"expected {len(groups)} values of {key!r} (one per param group), "
                         f"got {len(values)}")
    for group, v in zip(groups, values):
        group[key] = v


def warn_get_lr_outside_step(scheduler: LRScheduler) -> None:
    if not scheduler._get_lr_called_within_step:
        warnings.warn("To get the last learning rate computed by the scheduler, please use "
                      "`get_last_lr()`.", UserWarning, stacklevel=3)


# -------------------------------------------------------------------- the base
class LRScheduler:
    """Base of the schedulers that set ``param_groups[i]["lr"]`` of a fusedoptim optimizer,
    as torch.optim.lr_scheduler.LRScheduler.

    torch's convention: the optimizer's lr is set at construction (the scheduler's
    step 0), and ``sched.step()`` is called after each ``opt.step(grads)``.
    ``last_epoch=-1`` starts a schedule: each group's current lr is stored as its
    ``"initial_lr"`` (kept if already there) and becomes ``base_lrs``. Another
    ``last_epoch`` resumes and needs ``"initial_lr"`` in every group.

    ``state_dict()`` holds every attribute but the optimizer (copies);
    ``load_state_dict()`` restores them. Save and load the optimizer's state_dict
    too: it carries the lrs (and momentum/betas) the schedulers wrote.
    """

    _get_lr_called_within_step: bool = False
    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        last_epoch = integer("last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when "
                                   "resuming scheduler with last_epoch >= 0: load the optimizer's "
                                   "state_dict first, or start with last_epoch=-1")
        self.base_lrs = group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Set the step count to 0 and take the scheduler's step 0."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    # ------------------------------------------------------------- state
    _not_state: tuple[str, ...] = ("optimizer",)

    def state_dict(self) -> StateDict:
        """The scheduler's state: every attribute but the optimizer, as a dict (copies)."""
        return {k: copy.deepcopy(v) for k, v in self.__dict__.items() if k not in self._not_state}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the state from a dict made by :meth:`state_dict` (torch's too)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a dict, got {type(state_dict).__name__}")
        self.__dict__.update({k: copy.deepcopy(v) for k, v in state_dict.items()
                              if k not in self._not_state})

    # ------------------------------------------------------------- values
    def get_last_lr(self) -> list[float]:
        """The lrs of the last step, one per param group."""
        return list(self._last_lr)

    def get_lr(self) -> list[float]:
        """The lrs of the step being taken (called by :meth:`step`)."""
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Advance one step and write the new lrs into the optimizer's param groups.

        Call it after ``opt.step(grads)``. ``epoch`` (deprecated in torch): jump to
        that epoch, with the closed form where there is one.
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed = getattr(self, "_get_closed_form_lr", None)
                values = closed() if closed is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        set_values(self.optimizer, "lr", values)
        self._last_lr = group_values(self.optimizer, "lr")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.__dict__.get('last_epoch')})"


class _LambdaState:
    """What the lambda schedulers share: their construction from ``lr_lambda`` (one
    function, or one per param group) and their state_dict, where a function is not
    saved and a callable object's ``__dict__`` is (torch's rule)."""

    def __init__(self: Any, optimizer: Optimizer, lr_lambda: LRSchedule | Sequence[LRSchedule],
                 last_epoch: int = -1) -> None:
        check_optimizer(optimizer)
        self.optimizer = optimizer
        self.lr_lambdas = lambdas(optimizer, lr_lambda)
        LRScheduler.__init__(self, optimizer, last_epoch)

    def state_dict(self: Any) -> StateDict:
        state = {k: copy.deepcopy(v) for k, v in self.__dict__.items()
                 if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if _is_function(fn) else copy.deepcopy(fn.__dict__)
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self: Any, state_dict: Mapping[str, Any]) -> None:
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a dict, got {type(state_dict).__name__}")
        state = dict(state_dict)
        lambdas = state.pop("lr_lambdas", None) or []
        LRScheduler.load_state_dict(self, state)
        for fn, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                fn.__dict__.update(copy.deepcopy(saved))


def _is_function(fn: object) -> bool:
    import types
    return isinstance(fn, types.FunctionType)


def lambdas(optimizer: Optimizer, lr_lambda: LRSchedule | Sequence[LRSchedule]) -> list[LRSchedule]:
    """One callable per param group (torch's LambdaLR/MultiplicativeLR argument)."""
    if isinstance(lr_lambda, (list, tuple)):
        if len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(f"Expected {len(optimizer.param_groups)} lr_lambdas, but got "
                             f"{len(lr_lambda)}")
        fns = list(lr_lambda)
    else:
        fns = [lr_lambda] * len(optimizer.param_groups)
    for fn in fns:
        if not callable(fn):
            raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
    return fns
