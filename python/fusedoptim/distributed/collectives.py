"""Data-parallel collectives over lists of NumPy arrays: the params from one rank to all
(``broadcast_``) and the grads averaged across ranks (``allreduce_grads_``).

Small tensors travel packed into buckets (Horovod's tensor fusion): a step makes a few
large collectives, not one per tensor, and the packing and unpacking are native
multi-tensor copies. Arrays that are already consecutive views of one buffer (made by
``flat_params``) travel as that buffer, with no copy; so does a tensor of a bucket's size
or more.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _comm
from ._flat import as_list, check_arrays, flat_runs, pack, unpack

DEFAULT_BUCKET_BYTES = 25 * 2**20


def broadcast_(arrays: Any, root: int = 0, comm: Any = None) -> None:
    """Copy ``arrays`` (a list or dict of arrays) of rank ``root`` into the same arrays of
    every other rank, in place: the params at the start of training."""
    comm = _comm.world(comm)
    error: BaseException | None = None
    items: list[Any] = []
    keys = None
    try:
        items, keys = as_list(arrays, "arrays")
        check_arrays(items, "arrays", writeable=True)
        if isinstance(root, bool) or not isinstance(root, (int, np.integer)) \
                or not 0 <= root < comm.Get_size():
            raise ValueError(f"root: expected a rank in [0, {comm.Get_size()}), got {root!r}")
    except (TypeError, ValueError) as exc:
        error = exc
    described, summary = _comm.describe_arrays(items)
    _comm.agree(comm, "broadcast_", [root, keys, described], error, summary)
    if comm.Get_size() == 1:
        return
    receives = comm.Get_rank() != root
    _bucketed(items, DEFAULT_BUCKET_BYTES, lambda buf: comm.Bcast(buf, root=root),
              pack_needed=not receives, unpack_needed=receives, scale=1.0)


def allreduce_grads_(grads: Any, op: str = "mean", bucket_bytes: int = DEFAULT_BUCKET_BYTES,
                     comm: Any = None) -> None:
    """Average (``op="mean"``) or sum (``op="sum"``) ``grads`` (a list or dict of arrays)
    across ranks, in place.

    Tensors are packed in order into buckets of at most ``bucket_bytes`` per dtype, one
    allreduce each; consecutive views of one buffer, and tensors of ``bucket_bytes`` or
    more, are reduced where they are. The mean multiplies the sum by 1/size while
    unpacking (exact for a power-of-two number of ranks)."""
    comm = _comm.world(comm)
    error: BaseException | None = None
    items: list[Any] = []
    keys = None
    try:
        if op not in ("mean", "sum"):
            raise ValueError(f"op: expected 'mean' or 'sum', got {op!r}")
        if isinstance(bucket_bytes, bool) or not isinstance(bucket_bytes, (int, np.integer)) \
                or bucket_bytes < 1:
            raise ValueError(f"bucket_bytes: expected an integer >= 1, got {bucket_bytes!r}")
        items, keys = as_list(grads, "grads")
        check_arrays(items, "grads", writeable=True)
        _check_distinct(items, "grads")
    except (TypeError, ValueError) as exc:
        error = exc
    described, summary = _comm.describe_arrays(items)
    _comm.agree(comm, "allreduce_grads_", [op, keys, described], error, summary)
    size = comm.Get_size()
    scale = 1.0 / size if op == "mean" else 1.0
    mpi = _comm.mpi()
    _bucketed(items, int(bucket_bytes), lambda buf: comm.Allreduce(mpi.IN_PLACE, buf, op=mpi.SUM),
              pack_needed=True, unpack_needed=True, scale=scale)


def _check_distinct(arrays: Sequence[np.ndarray], label: str) -> None:
    """ValueError if two arrays share memory: reduced in place, each value must be one grad's."""
    spans = sorted((a.ctypes.data, a.ctypes.data + a.nbytes, i) for i, a in enumerate(arrays)
                   if a.nbytes)
    for (s0, e0, i), (s1, _, j) in zip(spans, spans[1:]):
        if s1 < e0:
            raise ValueError(f"{label}[{max(i, j)}]: overlaps {label}[{min(i, j)}] in memory")


def _bucketed(arrays: list[np.ndarray], bucket_bytes: int, collective: Callable[[np.ndarray], Any],
              pack_needed: bool, unpack_needed: bool, scale: float) -> None:
    """Run ``collective(buffer)`` (in place) over every array: runs of one buffer and large
    tensors directly, the rest packed into buckets of one dtype in order."""
    pending: dict[np.dtype, list[np.ndarray]] = {}
    held: dict[np.dtype, int] = {}  # bytes pending per dtype

    def flush(dtype: np.dtype) -> None:
        group = pending.pop(dtype, [])
        held.pop(dtype, None)
        if not group:
            return
        buf = np.empty(sum(a.size for a in group), dtype=dtype)
        if pack_needed:
            pack(group, buf)
        collective(buf)
        if unpack_needed:
            unpack(buf, group, 0, scale)

    for start, stop, view in flat_runs(arrays):
        a = arrays[start]
        if view is None and a.nbytes < bucket_bytes:
            if held.get(a.dtype, 0) + a.nbytes > bucket_bytes:
                flush(a.dtype)
            pending.setdefault(a.dtype, []).append(a)
            held[a.dtype] = held.get(a.dtype, 0) + a.nbytes
            continue
        whole = view if view is not None else a.reshape(-1)
        if whole.size:
            collective(whole)
            if unpack_needed and scale != 1.0:
                np.multiply(whole, whole.dtype.type(scale), out=whole)
    for dtype in list(pending):
        flush(dtype)
