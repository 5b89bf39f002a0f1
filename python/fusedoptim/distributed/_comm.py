"""The communicator, and the agreement every collective of this package starts with.

MPI matches collectives by order alone: if one rank averages 161 grads while another
averages 160, or one steps while another broadcasts, the data collectives pair up
wrongly and hang or corrupt the arrays. So each public call first exchanges a small
description of itself (what is called, a digest of the arrays' shapes and dtypes and of
the options, and any error the rank found in its own arguments) in one allgather of a
few bytes per rank; if the ranks disagree, or any rank's arguments are bad, every rank
raises the same error before any data moves.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np


class RankMismatchError(ValueError):
    """The ranks called a collective of fusedoptim.distributed with different arguments
    (or different collectives): raised on every rank, before any data moved."""


def mpi() -> Any:
    """mpi4py's MPI module, or an ImportError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise ImportError("fusedoptim.distributed needs mpi4py and an MPI library: "
                          "pip install 'fusedoptim[mpi]' (mpi4py with MPICH's wheel)") from exc
    return MPI


def world(comm: Any = None) -> Any:
    """``comm``, or MPI.COMM_WORLD when it is None."""
    return mpi().COMM_WORLD if comm is None else comm


def digest(items: Sequence[Any]) -> str:
    """A short stable digest of a description (reprs of shapes, dtypes, options)."""
    return hashlib.blake2b(repr(list(items)).encode(), digest_size=8).hexdigest()


def _code(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little",
                          signed=True)


def agree(comm: Any, what: str, described: Sequence[Any], error: BaseException | None = None,
          summary: str = "") -> None:
    """Every rank's (what, digest of ``described``, error): raise on every rank when a
    rank found an error in its arguments or when the ranks' calls differ.

    ``summary`` (a few words: "161 float32 arrays, 25557032 values") names each rank's
    call in the message. Costs one allgather of a few dozen bytes."""
    mine = (what, digest(described), None if error is None else f"{type(error).__name__}: {error}",
            summary)
    # The common case in one fixed-size allgather of three int64 per rank; the details
    # (pickled) only when something differs.
    code = np.array([_code(what), _code(mine[1]), error is not None], dtype=np.int64)
    codes = np.empty((comm.Get_size(), 3), dtype=np.int64)
    comm.Allgather(code, codes)
    if not codes[:, 2].any() and (codes[:, :2] == codes[0, :2]).all():
        return
    everyone = comm.allgather(mine)
    failed = [(r, e[2]) for r, e in enumerate(everyone) if e[2] is not None]
    if failed:
        if error is not None:
            raise error
        rank, message = failed[0]
        raise ValueError(f"{what}: rank {rank} refused its arguments ({message}); every rank "
                         "stops here, before any data moved")
    calls = {(e[0], e[1]) for e in everyone}
    if len(calls) > 1:
        lines = "; ".join(f"rank {r}: {e[0]}({e[3]}) [{e[1]}]" for r, e in enumerate(everyone))
        raise RankMismatchError(f"{what}: the ranks' calls differ (another call, or other "
                                f"arrays, shapes, dtypes or options): {lines}")


def agree_outcome(comm: Any, what: str, error: BaseException | None) -> None:
    """After a local action that may fail on some ranks only: raise on every rank if any
    failed (the failing rank re-raises its own error)."""
    flag = np.array([error is not None], dtype=np.int64)
    comm.Allreduce(mpi().IN_PLACE, flag, op=mpi().MAX)
    if not flag[0]:
        return
    everyone = comm.allgather(None if error is None else f"{type(error).__name__}: {error}")
    if error is not None:
        raise error
    failed = [(r, m) for r, m in enumerate(everyone) if m is not None]
    if failed:
        raise RuntimeError(f"{what}: failed on rank {failed[0][0]} ({failed[0][1]})")


def describe_arrays(arrays: Sequence[Any]) -> tuple[list[Any], str]:
    """(shapes and dtypes, a summary) of a list of arrays, for agree()."""
    described = [(tuple(getattr(a, "shape", ())), str(getattr(a, "dtype", type(a).__name__)))
                 for a in arrays]
    values = sum(int(getattr(a, "size", 0)) for a in arrays)
    dtypes = sorted({d for _, d in described})
    return described, f"{len(described)} arrays of {'/'.join(dtypes) or 'no dtype'}, {values} values"
