"""``demo --distributed``: the demo's MLP on the digits, trained data-parallel over MPI
with ZeroRedundancyOptimizer (Adam, the demo's settings), then the same run in one
process on rank 0 for comparison.

Launch: ``mpirun -n 2 python -m mpi4py -m fusedoptim demo --distributed``. Every rank
sees the same batches (same seed); rank r takes rows r, r+N, ... of each batch. Its
grads (a mean over its rows) are weighted by rows_r * N / batch, so the mean over ranks
that ZeroRedundancyOptimizer takes is the whole batch's mean grad: the single process's
step, up to the order of the sum.
"""
from __future__ import annotations

import time

import numpy as np

from . import _mlp
from .demo import BATCH, RUNS, SIZES, digits_or_explain


def _adam_settings():
    _, name, kwargs, _ = next(r for r in RUNS if r[0] == "Adam")
    return name, kwargs


def train(data, epochs, seed, dtype, comm=None):
    """Train on every rank of ``comm`` (None: one process, no MPI); returns (params, test
    accuracy per epoch, seconds)."""
    import fusedoptim
    from .. import data as fdata

    x_tr, y_tr, x_te, y_te = data
    name, kwargs = _adam_settings()
    init = _mlp.init_params(SIZES, np.random.default_rng(seed), dtype)
    if comm is None:
        params, rank, size = init, 0, 1
        opt = getattr(fusedoptim, name)(params, **kwargs)
    else:
        from .. import distributed as D
        params = D.flat_params([p.shape for p in init], dtype)  # gathered in place
        for p, v in zip(params, init):
            p[...] = v
        D.broadcast_(params, comm=comm)
        rank, size = comm.Get_rank(), comm.Get_size()
        opt = D.ZeroRedundancyOptimizer(params, getattr(fusedoptim, name), comm=comm, **kwargs)
    accs, seconds = [], 0.0
    batches = fdata.minibatches(x_tr, y_tr, BATCH, shuffle=True, seed=seed)  # reshuffled per epoch
    for _ in range(epochs):
        t0 = time.perf_counter()
        for xb, yb in batches:
            xs, ys = xb[rank::size], yb[rank::size]
            if len(ys):
                _, grads = _mlp.loss_and_grads(params, xs, ys)
                weight = dtype.type(len(ys) * size / len(yb))
                if weight != 1:
                    grads = [g * weight for g in grads]
            else:  # a last batch smaller than the number of ranks
                grads = [np.zeros_like(p) for p in params]
            opt.step(grads)
        seconds += time.perf_counter() - t0
        accs.append(_mlp.accuracy(params, x_te, y_te))
    return params, accs, seconds


def run(args, epochs: int) -> int:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    dtype = np.dtype(args.dtype)
    data = digits_or_explain(args.seed, dtype)
    if data is None:
        return 1
    params, accs, seconds = train(data, epochs, args.seed, dtype, comm)
    if rank != 0:
        return 0
    name, kwargs = _adam_settings()
    one, one_accs, one_seconds = train(data, epochs, args.seed, dtype)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(params, one))
    print(f"digits MLP {'-'.join(map(str, SIZES))}, {dtype.name}, batch {BATCH} split over "
          f"{size} ranks, {epochs} epochs, {name}({', '.join(f'{k}={v}' for k, v in kwargs.items())})")
    print(f"ZeroRedundancyOptimizer on {size} ranks: test accuracy {accs[-1]:.4f} ({seconds:.2f} s)")
    print(f"one process:                    test accuracy {one_accs[-1]:.4f} ({one_seconds:.2f} s)")
    print(f"largest difference of the final weights: {diff:.3g} (the order of the grads' sum)")
    return 0
