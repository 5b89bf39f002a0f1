"""Resume the checkpoints of zero_equivalence.py on another number of ranks: rank 0 reads
the file, the others pass None to load_state_dict (broadcast from rank 0); a consolidated
state right after loading equals the saved one bitwise; K more steps equal an
uninterrupted single process. argv: folder, steps before the save, steps after."""
import pickle
import sys
from pathlib import Path

import numpy as np
from _common import COMM, RANK, SHAPES, averaged, close, done, grads_of, params
from _zero_cases import CASES, make

from fusedoptim import distributed as D

folder, BEFORE, AFTER = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
SAVED_ON = int(sys.argv[4])  # the number of ranks of the run that saved
dtype = np.float64

for case in CASES:
    ckpt = pickle.load(open(folder / f"{case}.pkl", "rb")) if RANK == 0 else None
    ps = params(7, dtype)  # overwritten by the checkpoint's params
    if RANK == 0:
        for p, v in zip(ps, ckpt["params"]):
            p[...] = v
    D.broadcast_(ps)
    zero, zsched = make(case, ps, D.ZeroRedundancyOptimizer)
    zero.load_state_dict(ckpt["optimizer"] if RANK == 0 else None)
    sched_state = COMM.bcast(ckpt["scheduler"] if RANK == 0 else None)
    if zsched is not None:
        zsched.load_state_dict(sched_state)
    zero.consolidate_state_dict(to=0)
    if RANK == 0:
        again = zero.state_dict()
        for i, entry in ckpt["optimizer"]["state"].items():
            for k, v in entry.items():
                assert np.array_equal(np.asarray(again["state"][i][k]), np.asarray(v)), (case, i, k)
        assert again["group_updates"] == ckpt["optimizer"]["group_updates"]
    # The uninterrupted single process: BEFORE steps averaged over SAVED_ON ranks, then
    # AFTER steps averaged over this run's ranks.
    ref = params(1, dtype)
    single, ssched = make(case, ref)
    for t in range(BEFORE + AFTER):
        single.step(averaged(t, dtype, size=SAVED_ON if t < BEFORE else COMM.Get_size()))
        if ssched is not None:
            ssched.step()
    for t in range(BEFORE, BEFORE + AFTER):
        zero.step(grads_of(RANK, t, dtype))
        if zsched is not None:
            zsched.step()
    close(ps, ref, dtype, f"{case} resumed params")
done("zero_resume")
