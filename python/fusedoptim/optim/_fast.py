"""The fast path of ``Optimizer.step``: the last step's native plan, reused.

A plan is made after a general step in which every param had a gradient, no state
was created and each group was one launch. It stays valid while the optimizer's
structure does: the same state version, the same params lists, and hyperparameters
that give the same kernel flags. A change of values only (a scheduler setting lr,
say) re-checks the hyperparameters and keeps the plan; the native plan re-checks
the gradients and the arrays themselves on every run. The key a plan compares with
holds snapshots of the values, never a user's list: betas[0] = 0 done in place is a
change like any other.

Stochastic rounding: the plan is made from works carrying (seed, tensors, steps) and
advances every tensor's step by one on each run (csrc/bindings/plan_binding.cpp), as the
optimizer's step counts advance; anything that changes step counts otherwise (a loaded
state_dict, ``opt.state[i]["step"] = ...``) bumps the version and drops the plan.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks as C
from .. import functional as F


def structure(h: dict) -> tuple:
    """What of the hyperparameters shapes the launch: the flags and which values are 0
    (weight decay or momentum switched on or off changes the kernel and its buffers)."""
    return (tuple(sorted((k, v) for k, v in h.items() if isinstance(v, bool))),
            tuple(sorted(k for k, v in h.items() if not isinstance(v, bool) and v == 0)))


def freeze(value):
    """A snapshot of a hyperparameter value that compares equal only to the same value of
    the same type: lists (edited in place by users) and arrays become tuples of their
    values, so the snapshot holds nothing a user can change in place."""
    t = type(value)
    if t is float:
        return value
    if t is tuple or t is list:
        return (t, tuple(freeze(v) for v in value))
    if isinstance(value, np.ndarray):
        return (t, value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, dict):
        return (t, tuple((k, freeze(v)) for k, v in value.items()))
    return (t, value)  # immutable scalars, None, str; callables by identity


class _Frozen:
    """Stands in a stored key for a value a user may edit in place (an array, a dict):
    equal to a live value only while that value still freezes the same."""

    __slots__ = ("value",)
    __hash__ = None  # type: ignore[assignment]  # unhashable, as the values it stands for

    def __init__(self, value):
        self.value = freeze(value)

    def __eq__(self, other):
        return freeze(other) == self.value


_IMMUTABLE = frozenset((float, int, bool, str, type(None)))


def stored_key(key):
    """The key as a plan stores it (see Optimizer._fast_key): each group's entry snapshot."""
    version, groups = key
    return (version, [snapshot(entry) for entry in groups])


def snapshot(value):
    """``value`` with lists as tuples and every other object that could change in place
    replaced by a :class:`_Frozen`; numbers stay as they are, so comparing the stored key
    with the live one (``_native.same_key``) runs no Python code in the usual case."""
    t = type(value)
    if t in _IMMUTABLE or isinstance(value, np.generic):
        return value
    if t is tuple or t is list:  # a list as a tuple of its values: ours, immutable
        return tuple(snapshot(v) for v in value)
    if callable(value) and not isinstance(value, (list, dict, np.ndarray)):
        return value  # a callable lr: evaluated anew on every step anyway
    return _Frozen(value)


def _item(value):
    """A 0-d NumPy array as its scalar (schedules built with NumPy may return one)."""
    return value.item() if getattr(value, "ndim", None) == 0 else value


class _Work:
    """How one launch of the plan gets its per-step scalars."""

    __slots__ = ("fn", "names", "args", "gs", "by_step", "fixed", "lr_fn", "lr_index",
                 "lr_label", "state", "last_args", "flag_fn", "state_flags", "stale")

    def __init__(self, name, h, gs, group, gi, opt, work_flags):
        self.fn, self.by_step = F.SCALARS[name]
        self.gs = gs
        code = self.fn.__code__
        self.names = code.co_varnames[1:code.co_argcount]
        lr = group.get("lr")
        self.lr_fn = lr if callable(lr) else None
        self.lr_index = self.names.index("lr") if "lr" in self.names else None
        self.lr_label = f"param_groups[{gi}]['lr']"
        # Scalar state the kernel takes (NAdam's mu_product, ASGD's eta and mu): read at
        # every step from the group's first param. All params of the group hold the same
        # values: the general step gives params with different values their own launches,
        # and a plan is made only where a group was one launch.
        self.state = [(self.names.index(n), n) for n in opt._scalar_state if n in self.names]
        # Flags that follow the scalar state (ASGD averages once mu != 1): the plan keeps
        # the flags it was made with, so a change of them makes it stale.
        self.flag_fn = opt._state_flags if self.state else None
        self.state_flags = work_flags & opt._state_flag_mask
        self.stale = opt._backend.StalePlan
        self.set_values(h)

    def set_values(self, h):
        self.args = tuple(h.get(a) for a in self.names)
        dynamic = (self.by_step or bool(self.state)
                   or (self.lr_fn is not None and self.lr_index is not None))
        self.fixed = None if dynamic else self.fn(None, *self.args)
        self.last_args = self.args

    def scalars(self):
        if self.fixed is not None:
            return self.fixed
        gs, args = self.gs, self.args
        if self.lr_fn is not None and self.lr_index is not None:
            k = self.lr_index
            lr = C.lr_value(_item(self.lr_fn(gs.updates)), gs.updates, self.lr_label)
            args = args[:k] + (lr,) + args[k + 1:]
        if self.state:
            args = list(args)
            for k, name in self.state:
                args[k] = float(gs.buffers[name][0])
            self.last_args = args
            if self.flag_fn is not None and \
                    self.flag_fn(dict(zip(self.names, args))) != self.state_flags:
                raise self.stale("the scalar state changed the kernel's flags")
        # Each group's params share one step count here (one launch per group).
        return self.fn(gs._steps[0] + gs.pending + 1, *args)


class FastStep:
    __slots__ = ("key", "plan", "works", "structures")

    def __init__(self, opt, works, calls, groups):
        self.key = stored_key(opt._fast_key())
        self.plan = opt._backend.Plan(works)
        index = {id(gs): gi for gi, gs in enumerate(opt._groups)}
        hs = [opt.group_hparams(gi) for gi in range(len(opt._groups))]
        self.works = []
        for (name, _, _), gs, work in zip(calls, groups, works):
            gi = index[id(gs)]
            self.works.append(_Work(name, hs[gi], gs, opt.param_groups[gi], gi, opt, work[1]))
        self.structures = [structure(h) for h in hs]

    def refresh(self, opt: Any) -> bool:
        """After a change of hyperparameter values: re-check them and keep the plan if the
        launch keeps its shape. Raises what the checks raise (nothing has changed then)."""
        key = opt._fast_key()
        if key[0] != self.key[0] or [k[0] for k in key[1]] != [k[0] for k in self.key[1]]:
            return False
        hs = [opt.group_hparams(gi) for gi in range(len(opt._groups))]
        if [structure(h) for h in hs] != self.structures:
            return False
        index = {id(gs): gi for gi, gs in enumerate(opt._groups)}
        for w in self.works:
            gi = index[id(w.gs)]
            lr = opt.param_groups[gi].get("lr")
            w.lr_fn = lr if callable(lr) else None
            w.set_values(hs[gi])
        self.key = stored_key(key)
        return True

    def scalars(self) -> list:
        return [w.scalars() for w in self.works]

    def advance_scalar_state(self, opt: Any) -> None:
        """After a run: each group's scalar state, computed once from the values and
        hyperparameters the run used, written to every param of the group."""
        names = opt._scalar_state
        for w in self.works:
            gs = w.gs
            h = dict(zip(w.names, w.last_args))
            new = opt._next_scalar_state(h, gs._steps[0] + gs.pending,
                                         [float(gs.buffers[n][0]) for n in names])
            for name, value in zip(names, new):
                for arr in gs.buffers[name]:
                    arr[()] = value
