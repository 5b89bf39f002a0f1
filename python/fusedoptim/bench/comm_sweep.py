"""Seconds of the three collectives of a data-parallel step over a range of message
sizes (float32 buffers), for fitting the cost model's alpha and beta: Allreduce in place
(allreduce_grads_), Reduce_scatter and Allgather in place (ZeroRedundancyOptimizer, whose
shards are equal blocks of total // N values, the last one with the remainder).
Collective: every rank calls ``sweep`` with the same arguments."""
from __future__ import annotations

import math
import statistics
import time
from typing import Any

import numpy as np

#: message sizes (bytes of the full buffer), 1 KB to 100 MB
SIZES = [10 ** k for k in range(3, 9)]
QUICK_SIZES = [10 ** k for k in range(3, 6)]


def _calls(comm: Any, kind: str, values: int) -> Any:
    """A function making one collective of ``kind`` over ``values`` float32 values."""
    from mpi4py import MPI

    n, rank = comm.Get_size(), comm.Get_rank()
    block = values // n
    bounds = [block * r for r in range(n)] + [values]  # as distributed/_shards.py cuts
    counts = [b - a for a, b in zip(bounds, bounds[1:])]
    buf = np.ones(values, dtype=np.float32)
    if kind == "allreduce":
        return lambda: comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    if kind == "reduce_scatter":
        recv = np.empty(counts[rank], dtype=np.float32)
        return lambda: comm.Reduce_scatter(buf, recv, recvcounts=counts, op=MPI.SUM)
    if kind == "all_gather":
        return lambda: comm.Allgather(MPI.IN_PLACE, buf[:block * n])
    raise ValueError(f"kind: unknown collective {kind!r}")


def _time(comm: Any, call: Any, repeats: int, target_s: float) -> float:
    """Median over ``repeats`` samples of the slowest rank's seconds per call; a sample
    repeats the call (the same count on every rank) until it lasts about ``target_s``."""
    call()
    comm.Barrier()
    t0 = time.perf_counter()
    call()
    one = comm.allreduce(time.perf_counter() - t0, op=mpi_max())
    inner = max(1, min(1000, math.ceil(target_s / max(one, 1e-7))))
    samples = []
    for _ in range(repeats):
        comm.Barrier()
        t0 = time.perf_counter()
        for _ in range(inner):
            call()
        samples.append(comm.allreduce((time.perf_counter() - t0) / inner, op=mpi_max()))
    return statistics.median(samples)


def mpi_max() -> Any:
    from mpi4py import MPI
    return MPI.MAX


def sweep(comm: Any, sizes: list[int], repeats: int, target_s: float = 0.01) -> list[dict[str, Any]]:
    """Rows (kind, ranks, bytes, seconds) of every collective at every size; nothing at one
    rank (no message moves)."""
    n = comm.Get_size()
    if n < 2:
        return []
    rows = []
    for kind in ("allreduce", "reduce_scatter", "all_gather"):
        for size in sizes:
            values = max(n, size // 4)
            seconds = _time(comm, _calls(comm, kind, values), repeats, target_s)
            rows.append({"kind": kind, "ranks": n, "bytes": values * 4, "seconds": seconds})
    return rows
