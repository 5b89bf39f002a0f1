"""Schedulers made of schedulers: SequentialLR (one after another) and
ChainedScheduler (all at once), as torch's."""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._typing import StateDict
from ..optim.base import Optimizer
from ._base import LRScheduler, check_optimizer, group_values, increasing, integer, set_values
from ._plateau import ReduceLROnPlateau


def _check_schedulers(owner: object, schedulers: Iterable[LRScheduler],
                      optimizer: Optimizer | None) -> list[LRScheduler]:
    name = type(owner).__name__
    if isinstance(schedulers, Mapping) or not hasattr(schedulers, "__iter__"):
        raise TypeError("schedulers: expected a list of schedulers, got "
                        f"{type(schedulers).__name__}")
    schedulers = list(schedulers)
    if not schedulers:
        raise ValueError(f"{name} expects at least one scheduler, but got no scheduler.")
    if optimizer is None:
        optimizer = getattr(schedulers[0], "optimizer", None)
    check_optimizer(optimizer)
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{name}: schedulers[{i}] is a {type(s).__name__}, not a "
                            "fusedoptim.lr_scheduler scheduler")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(f"{name} does not support `ReduceLROnPlateau` scheduler as it "
                             "requires additional kwargs to be specified when calling `step`, "
                             f"but got one at index {i} in the given schedulers sequence.")
        if s.optimizer is not optimizer:
            raise ValueError(f"{name} expects all schedulers to belong to the same optimizer, but "
                             f"got scheduler {type(s).__name__} at index {i} with another one.")
    return schedulers


class _Composite:
    """state_dict of a scheduler of schedulers: its own attributes and each one's state."""

    _not_state: tuple[str, ...] = ("optimizer", "_schedulers")

    def state_dict(self: Any) -> StateDict:
        state = LRScheduler.state_dict(self)
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self: Any, state_dict: Mapping[str, Any]) -> None:
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a dict, got {type(state_dict).__name__}")
        state = dict(state_dict)
        saved = state.pop("_schedulers", None) or []
        if len(saved) != len(self._schedulers):
            raise ValueError(f"state_dict: has {len(saved)} schedulers' states, this "
                             f"{type(self).__name__} has {len(self._schedulers)} schedulers")
        LRScheduler.load_state_dict(self, state)
        for s, sd in zip(self._schedulers, saved):
            s.load_state_dict(sd)


class SequentialLR(_Composite, LRScheduler):
    """Run ``schedulers`` one after another, switching at ``milestones``, as torch's.

    ``milestones``: len(schedulers) - 1 epochs, ints >= 0, strictly increasing. At a
    milestone the next scheduler starts from its epoch 0 (its closed form where it
    has one). All schedulers must belong to ``optimizer``.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler],
                 milestones: Sequence[int], last_epoch: int = -1) -> None:
        schedulers = _check_schedulers(self, schedulers, optimizer)
        milestones = increasing("milestones", milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("Sequential Schedulers expects number of schedulers provided to be "
                             f"one more than the number of milestone points, but got number of "
                             f"schedulers {len(schedulers)} and the number of milestones to be "
                             f"equal to {len(milestones)}")
        last_epoch = integer("last_epoch", last_epoch, -1)
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # Back to the initial lrs, undo the schedulers' own first steps, then take step 0
        # with the scheduler meant for it.
        set_values(optimizer, "lr", group_values(optimizer, "initial_lr"))
        self.recursive_undo()
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def recursive_undo(self, sched: Any = None) -> None:
        """Take one off the ``last_epoch`` of every scheduler inside, recursively."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]  # torch's: no epoch
        """One step of the scheduler in charge at the new epoch."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite, LRScheduler):
    """Step every scheduler of ``schedulers`` at each step, in order, as torch's: their
    factors compose. ``optimizer``: the one they share (default: the first one's)."""

    def __init__(self, schedulers: Sequence[LRScheduler],
                 optimizer: Optimizer | None = None) -> None:
        schedulers = _check_schedulers(self, schedulers, optimizer)
        self._schedulers = schedulers
        self.optimizer = schedulers[0].optimizer if optimizer is None else optimizer
        self._last_lr = group_values(self.optimizer, "lr")

    def step(self) -> None:  # type: ignore[override]  # torch's: no epoch
        """One step of each scheduler."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = group_values(self.optimizer, "lr")
