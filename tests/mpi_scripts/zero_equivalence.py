"""ZeroRedundancyOptimizer with Adam, AdamW (AMSGrad, callable lr), SGD with momentum and
NAdam, two param groups, a StepLR scheduler: params on every rank equal a single-process
run with the averaged grads; each rank keeps about 1/N of the state; the consolidated
state_dict equals the single process's. Saves checkpoints for zero_resume.py:
argv[1] = folder, argv[2] = steps."""
import pickle
import sys
from pathlib import Path

import numpy as np
from _common import COMM, RANK, SIZE, SHAPES, averaged, close, done, grads_of, params
from _zero_cases import CASES, make, state_bytes

from fusedoptim import distributed as D

folder, STEPS = Path(sys.argv[1]), int(sys.argv[2])
dtype = np.float64

for case in CASES:
    for layout in ("separate", "flat"):
        if layout == "flat":
            ps = D.flat_params(SHAPES, dtype)
            for p, v in zip(ps, params(1, dtype)):
                p[...] = v
        else:
            ps = params(1, dtype)
        ref = params(1, dtype)
        zero, zsched = make(case, ps, D.ZeroRedundancyOptimizer)
        single, ssched = make(case, ref)
        for t in range(STEPS):
            zero.step(grads_of(RANK, t, dtype))
            single.step(averaged(t, dtype))
            for s in (zsched, ssched):
                if s is not None:
                    s.step()
        close(ps, ref, dtype, f"{case} {layout} params")
        # 1/N of the state per rank: shards are cut by values (total // N each, the last
        # one also the remainder), so each rank's share is within N - 1 values per state
        # buffer of the full state / N.
        full = state_bytes(single.state, CASES[case][0])
        mine = state_bytes(zero.state, CASES[case][0])
        total = COMM.allreduce(mine)
        assert total == full, (case, total, full)
        n_buffers = max(1, round(full / sum(p.nbytes for p in ps)))
        assert abs(mine - full / SIZE) <= n_buffers * dtype().itemsize * (SIZE - 1), \
            (case, mine, full, SIZE)
        zero.consolidate_state_dict(to=0)
        if RANK == 0:
            sd, want = zero.state_dict(), single.state_dict()
            assert sd["group_updates"] == want["group_updates"] == [STEPS, STEPS]
            assert sorted(sd["state"]) == sorted(want["state"]) == list(range(len(SHAPES)))
            for i in want["state"]:
                assert sd["state"][i].keys() == want["state"][i].keys(), (i, sd["state"][i].keys())
                for k, v in want["state"][i].items():
                    np.testing.assert_allclose(np.asarray(sd["state"][i][k], dtype=np.float64),
                                               np.asarray(v, dtype=np.float64), rtol=1e-9,
                                               atol=1e-12, err_msg=f"{case} state {i} {k}")
            for g, w in zip(sd["param_groups"], want["param_groups"]):
                assert {k: v for k, v in g.items() if k != "lr"} == \
                       {k: v for k, v in w.items() if k != "lr"}, (g, w)
            if layout == "separate":
                with open(folder / f"{case}.pkl", "wb") as f:
                    pickle.dump({"params": ps, "optimizer": sd,
                                 "scheduler": zsched.state_dict() if zsched else None}, f)
        else:
            try:
                zero.state_dict()
            except RuntimeError:
                pass
            else:
                raise AssertionError("state_dict() on a rank that did not consolidate")
done("zero_equivalence")
