"""An optimizer's ``state_dict`` and ``load_state_dict``, mixed into optim.base.Optimizer:
the state copied out (device state to the host), and a loaded state_dict checked
completely (groups, entries, counts, stochastic rounding's entries) before anything of
the optimizer changes."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._typing import StateDict
from . import _groups as G
from ._lock import one_at_a_time
from ._state import GroupState, loaded_entries


class Persistence:
    """Mixed into Optimizer; reads its groups, state, backend and hyperparameter checks."""

    param_groups: list[dict[str, Any]]
    _groups: list[GroupState]
    _keys: Any
    _version: int
    _has_step: bool
    _backend: Any
    rounding_seed: int
    state: Any
    _check_hparams: Any
    _rounding_entries: Any
    _loaded_rounding: Any

    @one_at_a_time
    def state_dict(self) -> StateDict:
        """A copy of the state: {"state": {index: {...}}, "param_groups": [...],
        "group_updates": [...]}, NumPy arrays (device state is copied to the host, so a
        checkpoint loads on either side). ``group_updates`` counts the steps that updated
        each group: a callable lr resumes from there after loading."""
        state: dict[int, dict[str, Any]] = {}
        view = self.state
        is_array, to_numpy = self._backend.is_array, self._backend.to_numpy
        for i in view:
            state[i] = {k: (v.copy() if isinstance(v, np.ndarray) else
                            to_numpy(v) if is_array(v) else v) for k, v in view[i].items()}
        groups = G.export_groups(self.param_groups, [gs.indices for gs in self._groups], self._keys)
        out: StateDict = {"state": state, "param_groups": groups,
                          "group_updates": [gs.updates for gs in self._groups]}
        out.update(self._rounding_entries())
        return out

    @one_at_a_time
    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a state_dict (copied): checked completely before anything changes."""
        new_groups = G.check_loaded_groups(
            self, state_dict, [len(gs.indices) for gs in self._groups],
            lambda ng, gi: self._check_hparams(
                G.resolve_lr(ng, 0, f"state_dict param_groups[{gi}]['lr']"),
                lambda k: f"state_dict param_groups[{gi}][{k!r}]"))
        flat = [(gs, j, p) for group, gs in zip(self.param_groups, self._groups)
                for j, p in enumerate(group["params"])]
        new_steps, new_bufs = loaded_entries(self, state_dict["state"], [p for _, _, p in flat])
        updates = state_dict.get("group_updates")
        if updates is None:  # a state_dict without counts (torch's): the largest step count
            updates = [max([new_steps.get(i, 0) for i in gs.indices] or [0]) for gs in self._groups]
        elif (not isinstance(updates, (list, tuple)) or len(updates) != len(self._groups)
              or any(isinstance(u, bool) or not isinstance(u, (int, np.integer)) or u < 0
                     for u in updates)):
            raise ValueError("state_dict['group_updates']: expected one count >= 0 per param group, "
                             f"got {updates!r}")
        seed, rsteps = self._loaded_rounding(state_dict, len(flat))
        # Everything checked: replace hyperparameters and state.
        self._version += 1
        if seed is not None:
            self.rounding_seed = int(seed)
        G.replace_hyperparameters(self.param_groups, new_groups)
        for gs, count in zip(self._groups, updates):
            gs.steps = [0] * len(gs.indices)
            gs.buffers = {}
            gs.updates = int(count)
        for key, (gs, j, _) in enumerate(flat):
            gs.steps[j] = new_steps.get(key, 0) if rsteps is None or self._has_step \
                else int(rsteps[key])
        for (key, name), arr in new_bufs.items():
            gs, j, _ = flat[key]
            gs.buffer(name)[j] = arr
