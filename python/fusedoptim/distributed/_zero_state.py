"""ZeroRedundancyOptimizer's state across ranks: the whole state assembled from every
rank's pieces (consolidate_state_dict), and a whole state checked and cut into this
rank's pieces (load_state_dict). A whole state is what a single-process optimizer of the
same class keeps: per-element buffers of each param's shape, and per-param values (the
step count, 0-d scalar state) that every piece of a param shares."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._shards import Piece


def per_element(cls: Any) -> set[str]:
    """The names of ``cls``'s state buffers of the param's shape (cut into pieces)."""
    return set(cls._buffer_names) - set(getattr(cls, "_scalar_state", ()))


def assemble(parts: Sequence[Sequence[tuple[Piece, Mapping[str, Any]]]],
             params: Sequence[np.ndarray], cls: Any) -> dict[int, dict[str, Any]]:
    """The whole state from every rank's (piece, local state entry) pairs."""
    buffers = per_element(cls)
    state: dict[int, dict[str, Any]] = {}
    for rank_parts in parts:
        for pc, entry in rank_parts:
            full = state.setdefault(pc.index, {})
            for name, value in entry.items():
                if name in buffers:
                    if name not in full:
                        full[name] = np.empty(params[pc.index].shape, dtype=value.dtype)
                    full[name].reshape(-1)[pc.lo:pc.hi] = value
                else:
                    full.setdefault(name, value)
    return {i: state[i] for i in sorted(state)}


def loaded_updates(sd: Mapping[str, Any], indices: Sequence[Sequence[int]]) -> list[int]:
    """Each group's update count of a loaded state_dict (torch's have none: the largest
    step count of the group's params)."""
    updates = sd.get("group_updates")
    if updates is None:
        updates = [max([int(sd["state"].get(i, {}).get("step", 0)) for i in ix] or [0])
                   for ix in indices]
    if (not isinstance(updates, (list, tuple)) or len(updates) != len(indices)
            or any(isinstance(u, bool) or not isinstance(u, (int, np.integer)) or u < 0
                   for u in updates)):
        raise ValueError("state_dict['group_updates']: expected one count >= 0 per param "
                         f"group, got {updates!r}")
    return [int(u) for u in updates]


def cut_state(state: Any, params: Sequence[np.ndarray], pieces: Sequence[Piece],
              cls: Any) -> dict[int, dict[str, Any]]:
    """This rank's local state (keyed by piece) from a whole one, checked first: keys are
    param indices, entries dicts, buffers of their param's shape."""
    if not isinstance(state, Mapping):
        raise TypeError("state_dict['state']: expected a dict param index -> state")
    buffers = per_element(cls)
    for i, entry in state.items():
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(params):
            raise ValueError(f"state_dict['state']: key {i!r} is not a param index "
                             f"(0..{len(params) - 1})")
        if not isinstance(entry, Mapping):
            raise TypeError(f"state_dict['state'][{i}]: expected a dict of state, got "
                            f"{type(entry).__name__}")
        shape = params[int(i)].shape
        for name, value in entry.items():
            if name in buffers and np.shape(value) != shape:
                raise ValueError(f"state_dict['state'][{i}][{name!r}]: shape "
                                 f"{np.shape(value)}, but param {i} is {shape}")
    local: dict[int, dict[str, Any]] = {}
    for k, pc in enumerate(pieces):
        entry = state.get(pc.index)
        if entry is not None:
            local[k] = {name: (np.asarray(v).reshape(-1)[pc.lo:pc.hi].copy()
                               if name in buffers else v) for name, v in entry.items()}
    return local
