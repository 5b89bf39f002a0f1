"""Data-parallel training over MPI (mpi4py): params broadcast from one rank, grads
averaged across ranks in a few large bucketed collectives, and ZeroRedundancyOptimizer,
which shards the optimizer state so each of N ranks keeps 1/N of it (ZeRO stage 1).

Needs the ``mpi`` extra (``pip install "fusedoptim[mpi]"``: mpi4py and MPICH's wheel,
which brings ``mpirun``). Only this package imports mpi4py. Every function takes
``comm=None`` (MPI.COMM_WORLD) and is collective: every rank calls it, in the same
order, with arrays of the same shapes and dtypes; a mismatch raises RankMismatchError on
every rank before any data moves. Run scripts as ``mpirun -n 4 python -m mpi4py
train.py``, so that an exception on one rank aborts the job instead of leaving the
others waiting.
"""
from ._comm import RankMismatchError
from ._flat import flat_params
from .collectives import DEFAULT_BUCKET_BYTES, allreduce_grads_, broadcast_
from .zero import ZeroRedundancyOptimizer

__all__ = ["broadcast_", "allreduce_grads_", "flat_params", "ZeroRedundancyOptimizer",
           "RankMismatchError", "DEFAULT_BUCKET_BYTES"]
