"""ZeroRedundancyOptimizer: data parallelism with the optimizer state sharded across
ranks (DeepSpeed's ZeRO stage 1, torch.distributed.optim.ZeroRedundancyOptimizer).

Every rank holds all params; each keeps the state of its own shard only. A step
reduce-scatters the grads (each rank receives the sum of its shard), averages them,
updates its shard with the fused kernels of ``optimizer_class`` (a local optimizer over
1-D views of the params' pieces), then all-gathers the params in place on every rank.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..optim import Adam
from ..optim import _groups as G
from ..optim._lock import new_lock, one_at_a_time
from ..optim.base import Optimizer, _resolve_lr
from . import _comm
from ._flat import check_arrays, flat_runs, pack, unpack
from ._shards import Piece, Space, cut
from ._zero_state import assemble, cut_state, loaded_updates
from .collectives import _check_distinct


def _check_class(cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)) or cls is ZeroRedundancyOptimizer:
        raise TypeError("optimizer_class: expected a first-order fusedoptim optimizer class "
                        f"(fusedoptim.Adam, fusedoptim.SGD, ...), got {cls!r}")
    if cls._multi_pass:
        raise TypeError(f"optimizer_class: {cls.__name__} needs whole tensors in one step "
                        "(per-tensor norms, factored statistics or matrix products), so its "
                        "state cannot be sharded by values; use an elementwise optimizer")


def _hparams_described(group: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A group's hyperparameters for the ranks' agreement (a callable lr by its name)."""
    return sorted((k, getattr(v, "__qualname__", "callable") if callable(v) else repr(v))
                  for k, v in group.items() if k not in ("params", "param_names"))


class ZeroRedundancyOptimizer(Optimizer):
    """``optimizer_class`` (any elementwise first-order fusedoptim optimizer, default
    Adam) run data-parallel over MPI, each rank keeping 1/N of the optimizer state.

    ``params``: as for any fusedoptim optimizer (a list or dict of arrays, or param-group
    dicts), the same shapes, dtypes and order on every rank; NumPy float32/float64 arrays,
    C-contiguous and writeable: they are updated in place on every rank. ``**defaults``
    go to ``optimizer_class``. ``comm``: an mpi4py communicator (None: COMM_WORLD).

    Shards are balanced by values, per dtype: the params' values in order are cut into
    ``size`` contiguous ranges (a tensor may be split across ranks). ``step(grads)`` takes
    every rank's local grads (read only), averages them across ranks and steps, so every
    rank ends with the params a single process would have after a step with the averaged
    grads. Params made by ``flat_params`` (views of one buffer) are gathered in place;
    others through a staging buffer of one dtype's size. Param groups, callable lrs and
    the lr schedulers work as on ``optimizer_class``; the group hyperparameters live in
    ``param_groups`` (the full params), copied to the local optimizer at each step.

    Every method is collective: every rank must call it, in the same order with matching
    arguments. A mismatch (other shapes, dtypes, options or another call) raises
    ``RankMismatchError`` on every rank before any data moves.
    """

    def __init__(self, params: Any, optimizer_class: Any = Adam, *, comm: Any = None,
                 **defaults: Any) -> None:
        self._lock = new_lock()
        self.comm = comm = _comm.world(comm)
        self._size, self._rank = comm.Get_size(), comm.Get_rank()
        self.optimizer_class = optimizer_class
        self.param_groups: list[dict[str, Any]] = []
        self._keys: list[Any] | None = None
        self._params: list[np.ndarray] = []
        self._group_of: list[int] = []
        error: BaseException | None = None
        try:
            _check_class(optimizer_class)
            self._parse(params, defaults)
        except (TypeError, ValueError) as exc:
            error = exc
        described = [getattr(optimizer_class, "__qualname__", repr(optimizer_class)), self._keys,
                     [(_comm.describe_arrays(g["params"])[0], _hparams_described(g))
                      for g in self.param_groups]]
        _comm.agree(comm, "ZeroRedundancyOptimizer", described, error,
                    _comm.describe_arrays(self._params)[1])
        sizes = [p.size for p in self._params]
        self._spaces, self._pieces = cut(sizes, [p.dtype for p in self._params], self._group_of,
                                         self._size, self._rank)
        self._updates = [0] * len(self.param_groups)
        self._consolidated: dict[str, Any] | None = None
        self._shard_grads = [np.empty(sp.counts()[self._rank], dtype=sp.dtype) for sp in self._spaces]
        self._staging: list[np.ndarray | None] = [None] * len(self._spaces)
        self._piece_grads = [self._shard_grads[pc.space][pc.at:pc.at + pc.hi - pc.lo]
                             for pc in self._pieces]
        self.optim: Optimizer | None = None
        # Seconds of the last step's phases on this rank (perf_counter stamps, for the
        # distributed bench): "agree", "reduce_scatter", "update", "all_gather".
        self.last_step_seconds: dict[str, float] = {}
        error = None
        try:
            if self._pieces:
                groups = [{**self._hparams(gi), "params": [self._view(pc) for pc in self._pieces
                                                           if pc.group == gi]}
                          for gi in range(len(self.param_groups))]
                self.optim = optimizer_class(groups)
        except (TypeError, ValueError) as exc:
            error = exc
        _comm.agree_outcome(comm, "ZeroRedundancyOptimizer", error)

    # ---------------------------------------------------------------- set-up
    def _parse(self, params: Any, defaults: dict[str, Any]) -> None:
        groups, named = G.split_groups(params)
        self._keys = [] if named else None
        # The class's own checks of the hyperparameters, on every rank for every group
        # (a rank without a piece of a group must refuse what the others refuse).
        # The precision keywords are the optimizer's, not a group's: the local optimizer
        # would not get them. ZeRO shards float32 and float64 state only.
        for key, off in (("state_dtype", None), ("master_weights", False),
                         ("stochastic_rounding", False)):
            if key in defaults and defaults[key] is not off and defaults[key] != off:
                raise TypeError(f"{key}: ZeroRedundancyOptimizer shards float32 and float64 "
                                f"params with state of their dtype; {key} is not supported")
            defaults.pop(key, None)
        self._checker: Optimizer = self.optimizer_class([np.zeros(1)], **defaults)
        self.defaults = dict(self._checker.defaults)
        for gi, group in enumerate(groups):
            if not isinstance(group, Mapping) or "params" not in group:
                raise TypeError(f"params[{gi}]: expected a dict with a 'params' entry")
            arrays, keys, _ = G.group_arrays(group["params"], gi, self._keys, len(self._params))
            check_arrays(arrays, f"param_groups[{gi}]['params']", writeable=True)
            g = dict(group)
            for k, v in self.defaults.items():
                g.setdefault(k, v)
            g["params"] = arrays
            self.param_groups.append(g)
            self._check_group(gi, 0)
            if keys is not None and self._keys is not None:
                self._keys.extend(keys)
            self._params.extend(arrays)
            self._group_of.extend([gi] * len(arrays))
        if not self._params:
            raise ValueError("params: empty parameter list")
        _check_distinct(self._params, "params")

    def _check_group(self, gi: int, count: int) -> None:
        label = f"param_groups[{gi}]"
        group = self.param_groups[gi]
        self._checker._check_hparams(_resolve_lr(group, count, f"{label}['lr']"),
                                     lambda k: f"{label}[{k!r}]")

    def _hparams(self, gi: int) -> dict[str, Any]:
        return {k: v for k, v in self.param_groups[gi].items() if k != "params"}

    def _view(self, pc: Piece) -> np.ndarray:
        return self._params[pc.index].reshape(-1)[pc.lo:pc.hi]

    def _buffer(self, s: int) -> np.ndarray:
        """Space s's staging buffer (its full size), made on first use."""
        buf = self._staging[s]
        if buf is None:
            buf = self._staging[s] = np.empty(self._spaces[s].total, dtype=self._spaces[s].dtype)
        return buf

    # -------------------------------------------------------------------- step
    @one_at_a_time
    def step(self, grads: Any = None, *, grad_scale: Any = None, found_inf: Any = None) -> None:
        """Average ``grads`` (this rank's, aligned with the params: a list, or a dict by the
        params' keys; only read) across ranks and update every param in place on every rank.

        Loss scaling is not supported here: ``grad_scale`` or ``found_inf`` raise
        NotImplementedError (the other ranks a ValueError naming this rank), before any
        collective on the data."""
        stamps = [time.perf_counter()]
        error: BaseException | None = None
        flat: list[Any] = []
        try:
            if grad_scale is not None or found_inf is not None:
                raise NotImplementedError(
                    "ZeroRedundancyOptimizer.step: grad_scale and found_inf (loss scaling, "
                    "fusedoptim.amp.GradScaler) are not supported; step with unscaled grads")
            flat = self._flat_grads(grads)
            for gi in range(len(self.param_groups)):
                self._check_group(gi, self._updates[gi])
        except (TypeError, ValueError, NotImplementedError) as exc:
            error = exc
        shapes, summary = _comm.describe_arrays(flat)
        described = ["step", [_hparams_described(g) for g in self.param_groups], shapes]
        _comm.agree(self.comm, "ZeroRedundancyOptimizer.step", described, error, summary)
        self._consolidated = None
        stamps.append(time.perf_counter())
        mpi = _comm.mpi()
        if self._size == 1:  # one rank: its grads are the average, its shard everything
            piece_grads = [flat[pc.index].reshape(-1)[pc.lo:pc.hi] for pc in self._pieces]
        else:
            piece_grads = self._piece_grads
            for s, sp in enumerate(self._spaces):
                grads = [flat[i] for i in sp.members]
                send = self._one_buffer(grads)
                if send is None:
                    send = self._buffer(s)
                    pack(grads, send)
                recv = self._shard_grads[s]
                self.comm.Reduce_scatter(send, recv, recvcounts=sp.counts(), op=mpi.SUM)
                np.multiply(recv, recv.dtype.type(1.0 / self._size), out=recv)
        stamps.append(time.perf_counter())
        error = None
        try:
            if self.optim is not None:
                for gi, group in enumerate(self.optim.param_groups):
                    group.update(self._hparams(gi))
                self.optim.step(piece_grads)
        except Exception as exc:  # reported on every rank before the gather pairs up wrongly
            error = exc
        _comm.agree_outcome(self.comm, "ZeroRedundancyOptimizer.step (the local update, after "
                            "the reduce-scatter: reload a checkpoint)", error)
        stamps.append(time.perf_counter())
        if self._size > 1:
            for s, sp in enumerate(self._spaces):
                self._gather(s, sp, mpi)
        stamps.append(time.perf_counter())
        self.last_step_seconds = {name: b - a for name, a, b in zip(
            ("agree", "reduce_scatter", "update", "all_gather"), stamps, stamps[1:])}
        self._updates = [u + 1 for u in self._updates]

    def _flat_grads(self, grads: Any) -> list[Any]:
        if isinstance(grads, Mapping):
            if self._keys is None:
                raise TypeError("grads: params were given as a list, so grads must be a list too")
            missing = [k for k in self._keys if k not in grads]
            if missing or len(grads) != len(self._keys):
                raise ValueError(f"grads: keys differ from the params' (missing {missing[:1]!r})")
            flat = [grads[k] for k in self._keys]
        elif isinstance(grads, (list, tuple)):
            flat = list(grads)
        else:
            raise TypeError("grads: expected a list of arrays aligned with the params, or a "
                            f"dict by their keys, got {type(grads).__name__}")
        if len(flat) != len(self._params):
            raise ValueError(f"grads: expected {len(self._params)} arrays (one per param), "
                             f"got {len(flat)}")
        check_arrays(flat, "grads", writeable=False)
        for i, (g, p) in enumerate(zip(flat, self._params)):
            if g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"grads[{i}]: shape {g.shape} {g.dtype}, but param {i} is "
                                 f"{p.shape} {p.dtype}")
        return flat

    @staticmethod
    def _one_buffer(arrays: list[np.ndarray]) -> np.ndarray | None:
        """The 1-D view holding all ``arrays`` when they are consecutive views of one buffer."""
        if len(arrays) == 1:
            return arrays[0].reshape(-1)
        runs = flat_runs(arrays)
        return runs[0][2] if len(runs) == 1 else None

    def _gather(self, s: int, sp: Space, mpi: Any) -> None:
        params = [self._params[i] for i in sp.members]
        found = self._one_buffer(params)
        staged = found is None
        whole = self._buffer(s) if found is None else found
        if staged:
            pack([self._view(pc) for pc in self._pieces if pc.space == s], whole,
                 sp.bounds[self._rank])
        # Equal blocks by Allgather, then the last shard's remainder by a broadcast.
        even = sp.block * self._size
        if sp.block:
            self.comm.Allgather(mpi.IN_PLACE, whole[:even])
        if even < sp.total:
            self.comm.Bcast(whole[even:], root=self._size - 1)
        if staged:
            unpack(whole, params, 0, 1.0)

    # ------------------------------------------------------------------- state
    @property
    def state(self) -> Any:
        """This rank's shard of the state: the local optimizer's (keyed by its own indices,
        one per piece), or {} when this rank holds no piece."""
        return self.optim.state if self.optim is not None else {}

    @one_at_a_time
    def consolidate_state_dict(self, to: int = 0) -> None:
        """Collect the whole state on rank ``to`` (collective): ``state_dict()`` there then
        returns what a single-process ``optimizer_class`` would have."""
        error: BaseException | None = None
        if isinstance(to, bool) or not isinstance(to, (int, np.integer)) or not 0 <= to < self._size:
            error = ValueError(f"to: expected a rank in [0, {self._size}), got {to!r}")
        _comm.agree(self.comm, "consolidate_state_dict", [to], error)
        local = self.optim.state_dict()["state"] if self.optim is not None else {}
        parts = self.comm.gather([(pc, local.get(k, {})) for k, pc in enumerate(self._pieces)],
                                 root=to)
        if self._rank == to:
            groups = G.export_groups(self.param_groups, self._indices(), self._keys)
            self._consolidated = {"state": assemble(parts, self._params, self.optimizer_class),
                                  "param_groups": groups, "group_updates": list(self._updates)}
        else:
            self._consolidated = None

    def _indices(self) -> list[list[int]]:
        return [[i for i, g in enumerate(self._group_of) if g == gi]
                for gi in range(len(self.param_groups))]

    @one_at_a_time
    def state_dict(self) -> dict[str, Any]:
        """The whole state, on the rank given to the last ``consolidate_state_dict`` (since
        the last step); RuntimeError elsewhere."""
        if self._consolidated is None:
            raise RuntimeError("state_dict: call consolidate_state_dict(to=rank) on every rank "
                               "first (after the last step); then state_dict() on that rank")
        return self._consolidated

    @one_at_a_time
    def load_state_dict(self, state_dict: Any) -> None:
        """Load a whole state_dict (a single-process optimizer's or a consolidated one, from
        any number of ranks) and re-shard it (collective). Ranks may pass None: then rank
        0's is broadcast. Checked on every rank before anything changes."""
        have = self.comm.allgather(state_dict is not None)
        if not have[0] and any(have):
            raise ValueError("load_state_dict: rank 0 passed None; pass the state_dict on rank 0 "
                             "(or on every rank)")
        if not all(have):
            state_dict = self.comm.bcast(state_dict if self._rank == 0 else None, root=0)
        error: BaseException | None = None
        new_groups: list[dict[str, Any]] = []
        local: dict[str, Any] = {}
        try:
            new_groups, local = self._slice(state_dict)
        except (TypeError, ValueError, KeyError) as exc:
            error = exc
        _comm.agree(self.comm, "load_state_dict", [], error)
        before = self.optim.state_dict() if self.optim is not None else None
        error = None
        try:
            if self.optim is not None:
                self.optim.load_state_dict(local)
        except (TypeError, ValueError) as exc:
            error = exc
        try:
            _comm.agree_outcome(self.comm, "load_state_dict", error)
        except BaseException:
            if error is None and before is not None and self.optim is not None:
                self.optim.load_state_dict(before)  # another rank refused: nothing changes
            raise
        G.replace_hyperparameters(self.param_groups, new_groups)
        self._updates = list(local["group_updates"])
        self._consolidated = None

    def _slice(self, sd: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(the loaded groups' hyperparameters, this rank's local state_dict) of a whole one."""
        indices = self._indices()
        new_groups = G.check_loaded_groups(
            self, sd, [len(ix) for ix in indices], lambda ng, gi: self._checker._check_hparams(
                _resolve_lr(ng, 0, f"state_dict param_groups[{gi}]['lr']"),
                lambda k: f"state_dict param_groups[{gi}][{k!r}]"))
        updates = loaded_updates(sd, indices)
        local = cut_state(sd["state"], self._params, self._pieces, self.optimizer_class)
        groups = [{**ng, "params": [k for k, pc in enumerate(self._pieces) if pc.group == gi]}
                  for gi, ng in enumerate(new_groups)]
        return new_groups, {"state": local, "param_groups": groups, "group_updates": updates}

    def add_param_group(self, param_group: Any) -> None:
        raise NotImplementedError("ZeroRedundancyOptimizer: give every param group at "
                                  "construction (a new group would re-cut every rank's shard)")

    def __repr__(self) -> str:
        return (f"ZeroRedundancyOptimizer(rank {self._rank} of {self._size}, "
                f"{self.optimizer_class.__name__}, {len(self._pieces)} pieces)\n"
                + G.describe(self))
