"""Shared by the scripts that tests/test_distributed.py runs under mpirun: every rank's
grads at step t (deterministic, so each rank can also compute the others' and run the
single-process reference), and the checks. An exception ends the job (they run under
``python -m mpi4py``), and the test then fails on the exit status."""
from __future__ import annotations

import numpy as np
from mpi4py import MPI

COMM = MPI.COMM_WORLD
RANK, SIZE = COMM.Get_rank(), COMM.Get_size()

# One tensor much larger than the rest (split across ranks), a 0-d one, odd sizes.
SHAPES = [(37, 11), (11,), (23, 5, 3), (), (5,), (2000,), (3, 1), (7,)]  # 2779 values: a remainder on 2, 3 and 4 ranks


def params(seed, dtype, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.standard_normal(s), dtype=dtype) for s in shapes]


def grads_of(rank, step, dtype, shapes=SHAPES):
    """Rank ``rank``'s grads at ``step``: fresh random values, different on every rank."""
    rng = np.random.default_rng([step, rank, 12345])
    return [np.asarray(rng.standard_normal(s) * (1 + rank), dtype=dtype) for s in shapes]


def averaged(step, dtype, size=SIZE, shapes=SHAPES):
    """The mean of every rank's grads, summed in rank order in the grads' dtype."""
    every = [grads_of(k, step, dtype, shapes) for k in range(size)]
    out = []
    for i in range(len(shapes)):
        total = every[0][i].copy()
        for k in range(1, size):
            total += every[k][i]
        out.append(np.asarray(total * np.asarray(1.0 / size, dtype), dtype=dtype))
    return out


# Tolerances: the only difference from the single process is the order in which MPI
# sums the ranks' grads (a tree or ring, not rank order); with 2 ranks a sum of two is
# exact, with 4 it differs by an ulp or so per step, and the optimizers carry that on.
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def close(got, want, dtype, what):
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, err_msg=f"{what}[{i}] on rank {RANK}", **TOL[dtype])


def done(name):
    COMM.Barrier()
    print(f"OK {name} rank {RANK} of {SIZE}", flush=True)
