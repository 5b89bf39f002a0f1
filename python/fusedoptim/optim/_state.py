"""Per-group state storage and the torch-like ``opt.state`` view over it.

Buffers are kept per group as lists aligned with the group's params, which is
the shape the native call takes; ``opt.state[i]`` is a live view of param i's
entries, keyed by its flat index (its key too, for params given as a dict).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping

import numpy as np


class GroupState:
    """Everything an optimizer keeps for one param group."""

    __slots__ = ("indices", "names", "_steps", "pending", "buffers", "updates")

    def __init__(self, indices, names):
        self.indices = list(indices)           # flat index of each param of the group
        self.names = list(names)               # how each param is called in messages
        self._steps = [0] * len(self.indices)  # updates applied to each param ...
        self.pending = 0                       # ... plus this many to all (the fast path's count)
        self.buffers = {}                      # buffer name -> list of arrays (None: not created)
        self.updates = 0                       # steps that updated this group (a callable lr's t)

    @property
    def steps(self) -> list:
        if self.pending:
            self._steps = [s + self.pending for s in self._steps]
            self.pending = 0
        return self._steps

    @steps.setter
    def steps(self, value):
        self._steps = list(value)
        self.pending = 0

    def buffer(self, name):
        if name not in self.buffers:
            self.buffers[name] = [None] * len(self.indices)
        return self.buffers[name]


class ParamState(MutableMapping):
    """The state of one param: ``step`` (where the optimizer has one) and its buffers.

    Arrays are the optimizer's own (edit them in place, or assign an array of the
    same shape and dtype).
    """

    def __init__(self, opt, group: GroupState, j: int, param: np.ndarray):
        self._opt, self._g, self._j, self._p = opt, group, j, param

    def _keys(self):
        keys = [name for name, lst in self._g.buffers.items() if lst[self._j] is not None]
        if self._opt._has_step and (keys or self._g.steps[self._j] > 0):
            keys.insert(0, "step")
        return keys

    def __getitem__(self, key):
        if key == "step" and self._opt._has_step:
            return self._g.steps[self._j]
        lst = self._g.buffers.get(key)
        if lst is None or lst[self._j] is None:
            raise KeyError(key)
        return lst[self._j]

    def __setitem__(self, key, value):
        if key == "step" and self._opt._has_step:
            v = float(value)
            if not (0 <= v < math.inf and v == int(v)):  # int(inf) would be an OverflowError
                raise ValueError(f"step: expected a whole number >= 0, got {value!r}")
            self._g.steps[self._j] = int(value)
            self._opt._version += 1
            return
        if key not in self._opt._buffer_names:
            raise KeyError(f"{type(self._opt).__name__} keeps no state named {key!r}")
        # The kind (NumPy or the device array type) must be the param's; layout, device
        # and overlap are checked by the native layer at the next step.
        if (type(value) is not type(self._p) or tuple(value.shape) != tuple(self._p.shape)
                or value.dtype != self._p.dtype
                or (isinstance(value, np.ndarray) and not value.flags.c_contiguous)):
            raise ValueError(f"{key}: expected a C-contiguous {type(self._p).__name__} of shape "
                             f"{tuple(self._p.shape)} and dtype {self._p.dtype}")
        self._g.buffer(key)[self._j] = value
        self._opt._version += 1

    def __delitem__(self, key):
        raise TypeError("optimizer state entries cannot be deleted")

    def __iter__(self):
        return iter(self._keys())

    def __len__(self):
        return len(self._keys())

    def __repr__(self):
        return f"ParamState({dict(self)!r})"


class StateView(Mapping):
    """``opt.state``: flat param index -> :class:`ParamState` for params that have state.

    Also looked up by a param's key (params given as a dict) or by the array itself.
    """

    def __init__(self, opt):
        self._opt = opt

    def _locate(self, key):
        opt = self._opt
        if isinstance(key, np.ndarray) or hasattr(type(key), "__cuda_array_interface__"):
            for gi, gs in enumerate(opt._groups):
                for j, p in enumerate(opt.param_groups[gi]["params"]):
                    if p is key:
                        return gs, j, p
            raise KeyError("array is not a param of this optimizer")
        if opt._keys is not None and not isinstance(key, (int, np.integer)):
            try:
                key = opt._keys.index(key)
            except ValueError:
                raise KeyError(key) from None
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            for gi, gs in enumerate(opt._groups):
                if gs.indices and gs.indices[0] <= key <= gs.indices[-1]:
                    j = int(key) - gs.indices[0]
                    return gs, j, opt.param_groups[gi]["params"][j]
        raise KeyError(key)

    def __getitem__(self, key):
        # Like torch's defaultdict: a param without state yet gives an empty entry.
        gs, j, p = self._locate(key)
        return ParamState(self._opt, gs, j, p)

    def __contains__(self, key):
        try:
            return len(self[key]) > 0
        except KeyError:
            return False

    def __iter__(self):
        for gi, gs in enumerate(self._opt._groups):
            for j, i in enumerate(gs.indices):
                if len(ParamState(self._opt, gs, j, None)):
                    yield i

    def __len__(self):
        return sum(1 for _ in self)
