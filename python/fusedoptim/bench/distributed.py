"""Time per step of data-parallel training over MPI, split into its phases, and the
optimizer state each rank keeps: ZeroRedundancyOptimizer (reduce-scatter / local update /
all-gather) against plain data parallelism (allreduce_grads_ + the full optimizer on
every rank). Collective: every rank calls ``measure`` with the same arguments.

Each rank steps with its own random grads (seeded by its rank, copied into the grads
before every timed step). A timed step starts after a barrier and ends with one; a
phase's time is the slowest rank's (a step waits for it), and the figure reported is the
median over the repeats.
"""
from __future__ import annotations

import hashlib
import statistics
import time
from typing import Any

import numpy as np

from ..distributed import ZeroRedundancyOptimizer, allreduce_grads_, flat_params
from .comm_sweep import mpi_max
from .workloads import OPTIMIZERS, bytes_per_value, numel

#: phases of each scheme, in the order of a step
PHASES = {"zero1": ("agree", "reduce_scatter", "update", "all_gather"),
          "dp": ("allreduce", "update")}
LAYOUTS = ("flat", "separate")


def state_bytes(state: Any) -> int:
    """Bytes of every array in an optimizer's ``state`` (param -> {name: value})."""
    return sum(v.nbytes for entry in state.values() for v in entry.values()
               if isinstance(v, np.ndarray))


def _arrays(shapes: list[tuple], layout: str) -> list[np.ndarray]:
    """Zeroed float32 arrays: views of one buffer (``flat_params``: reduced and gathered in
    place) or separate arrays (packed into staging buffers by every collective)."""
    if layout == "flat":
        return list(flat_params(shapes, np.float32))
    return [np.zeros(s, dtype=np.float32) for s in shapes]


def _fill(arrays: list[np.ndarray], source: np.ndarray) -> None:
    at = 0
    for a in arrays:
        a.reshape(-1)[...] = source[at:at + a.size]
        at += a.size


def _timed(comm: Any, step: Any, refresh: Any, repeats: int, warmup: int = 1) -> dict[str, Any]:
    """Median seconds of ``step()`` (which returns its phases' seconds on this rank): each
    phase's slowest rank, and the whole step between two barriers."""
    per: dict[str, list[float]] = {}
    totals = []
    for r in range(warmup + repeats):
        refresh()
        comm.Barrier()
        t0 = time.perf_counter()
        phases = step()
        comm.Barrier()
        total = time.perf_counter() - t0
        everyone = comm.allgather(phases)
        if r < warmup:
            continue
        totals.append(total)
        for name in phases:
            per.setdefault(name, []).append(max(p[name] for p in everyone))
    return {"step": statistics.median(totals),
            "phases": {k: statistics.median(v) for k, v in per.items()},
            "samples": totals}


def _zero(comm: Any, cls: Any, hparams: dict, shapes: list[tuple], layout: str,
          source: np.ndarray, repeats: int) -> dict[str, Any]:
    params, grads = _arrays(shapes, layout), _arrays(shapes, layout)
    _fill(params, np.linspace(-1, 1, source.size, dtype=np.float32))
    zero = ZeroRedundancyOptimizer(params, cls, comm=comm, **hparams)

    def step() -> dict[str, float]:
        zero.step(grads)
        return dict(zero.last_step_seconds)

    out = _timed(comm, step, lambda: _fill(grads, source), repeats)
    out["state_bytes"] = comm.allgather(state_bytes(zero.state))
    # the slowest rank's update covers the largest shard
    out["update_values"] = comm.allreduce(sum(g.size for g in zero._piece_grads), op=mpi_max())
    # every rank must end with the same params: a cheap check that the gather ran
    out["params_agree"] = len(set(comm.allgather(_digest(params)))) == 1
    return out


def _dp(comm: Any, cls: Any, hparams: dict, shapes: list[tuple], layout: str,
        source: np.ndarray, repeats: int) -> dict[str, Any]:
    params, grads = _arrays(shapes, layout), _arrays(shapes, layout)
    _fill(params, np.linspace(-1, 1, source.size, dtype=np.float32))
    optim = cls(params, **hparams)

    def step() -> dict[str, float]:
        t0 = time.perf_counter()
        allreduce_grads_(grads, comm=comm)
        t1 = time.perf_counter()
        optim.step(grads)
        return {"allreduce": t1 - t0, "update": time.perf_counter() - t1}

    out = _timed(comm, step, lambda: _fill(grads, source), repeats)
    out["state_bytes"] = comm.allgather(state_bytes(optim.state))
    out["update_values"] = numel(shapes)
    out["params_agree"] = len(set(comm.allgather(_digest(params)))) == 1
    return out


def _digest(arrays: list[np.ndarray]) -> bytes:
    h = hashlib.blake2b(digest_size=8)
    for a in arrays:
        h.update(a.tobytes())
    return h.digest()


def measure(comm: Any, workload: str, shapes: list[tuple], optimizer: str,
            layouts: tuple[str, ...], repeats: int, seed: int = 0) -> list[dict[str, Any]]:
    """One row per (scheme, layout): median step and phase seconds, each rank's state
    bytes, the values the slowest rank's update covers and its bytes moved (float32)."""
    import fusedoptim

    class_name, hparams, _ = OPTIMIZERS[optimizer]
    cls = getattr(fusedoptim, class_name)
    rank, size = comm.Get_rank(), comm.Get_size()
    source = np.random.default_rng([seed, rank]).standard_normal(numel(shapes), dtype=np.float32)
    bpv = bytes_per_value(optimizer, 4)
    rows = []
    for layout in layouts:
        for scheme, fn in (("zero1", _zero), ("dp", _dp)):
            r = fn(comm, cls, hparams, shapes, layout, source, repeats)
            rows.append({"scheme": scheme, "layout": layout, "workload": workload,
                         "optimizer": optimizer, "ranks": size, "values": numel(shapes),
                         "update_bytes": r["update_values"] * bpv, **r})
    return rows


def local_update(optimizer: str, shapes: list[tuple], repeats: int) -> tuple[float, float]:
    """(bytes moved, median seconds) of one process's full float32 step of ``optimizer``
    over ``shapes``, without MPI: the update bandwidth when no measured run is given."""
    import fusedoptim

    class_name, hparams, _ = OPTIMIZERS[optimizer]
    params = _arrays(shapes, "flat")
    grads = _arrays(shapes, "flat")
    _fill(grads, np.random.default_rng(0).standard_normal(numel(shapes), dtype=np.float32))
    optim = getattr(fusedoptim, class_name)(params, **hparams)
    optim.step(grads)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        optim.step(grads)
        times.append(time.perf_counter() - t0)
    return numel(shapes) * bytes_per_value(optimizer, 4), statistics.median(times)
