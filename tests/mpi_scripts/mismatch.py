"""Mismatched calls across ranks raise on every rank, before any data moves, and change
nothing: different counts, shapes or dtypes of grads, different collectives, different
optimizers, a bad argument on one rank only. Run on 2 or more ranks."""
import numpy as np
from _common import COMM, RANK, done

import fusedoptim as fo
from fusedoptim import distributed as D

odd = RANK == 1


def grads(n=3, shape=(4,), dtype=np.float64):
    return [np.full(shape, RANK + 1.0, dtype=dtype) for _ in range(n)]


CASES = {
    "count": lambda: D.allreduce_grads_(grads(n=4 if odd else 3)),
    "shape": lambda: D.allreduce_grads_(grads(shape=(5,) if odd else (4,))),
    "dtype": lambda: D.allreduce_grads_(grads(dtype=np.float32 if odd else np.float64)),
    "op on one rank": lambda: D.allreduce_grads_(grads(), op="max" if odd else "mean"),
    "another collective": lambda: (D.broadcast_(grads()) if odd else D.allreduce_grads_(grads())),
    "read-only grad on one rank": lambda: D.allreduce_grads_(
        [g if not odd else np.frombuffer(g.tobytes()) for g in grads()]),
    "optimizer classes": lambda: D.ZeroRedundancyOptimizer(grads(), fo.SGD if odd else fo.Adam,
                                                           lr=0.1),
    "optimizer options": lambda: D.ZeroRedundancyOptimizer(grads(), fo.Adam,
                                                           lr=0.2 if odd else 0.1),
    "bad lr on one rank": lambda: D.ZeroRedundancyOptimizer(grads(), fo.Adam,
                                                            lr=-1.0 if odd else 0.1),
    "sharding a multi-pass optimizer": lambda: D.ZeroRedundancyOptimizer(grads(), fo.LAMB),
    "sharding an 8-bit optimizer": lambda: D.ZeroRedundancyOptimizer(grads(dtype=np.float32),
                                                                     fo.Adam8bit),
    # the optimizer-wide precision keywords: refused, never silently dropped
    "stochastic_rounding": lambda: D.ZeroRedundancyOptimizer(grads(), fo.Adam,
                                                             stochastic_rounding=True),
    "master_weights": lambda: D.ZeroRedundancyOptimizer(grads(), fo.SGD, lr=0.1,
                                                        master_weights=True),
    "state_dtype": lambda: D.ZeroRedundancyOptimizer(grads(dtype=np.float32), fo.Adam,
                                                     state_dtype=np.float16),
}

raised = []
for name, call in CASES.items():
    try:
        call()
    except (ValueError, TypeError) as exc:
        raised.append(name)
        print(f"rank {RANK} {name}: {type(exc).__name__}: {exc}"[:300], flush=True)
assert raised == list(CASES), f"rank {RANK} did not raise for {set(CASES) - set(raised)}"

# A ZeroRedundancyOptimizer whose step is refused on one rank changes nothing anywhere.
ps = [np.linspace(0, 1, 7) + RANK * 0, np.ones((3, 2))]
before = [p.copy() for p in ps]
zero = D.ZeroRedundancyOptimizer(ps, fo.Adam, lr=0.1)
bad = [np.ones(7), np.ones((2, 3)) if odd else np.ones((3, 2))]
try:
    zero.step(bad)
except ValueError as exc:
    print(f"rank {RANK} bad grad shape: {exc}"[:300], flush=True)
else:
    raise AssertionError("a grad of the wrong shape on one rank was not refused")
assert all(np.array_equal(a, b) for a, b in zip(ps, before))
assert zero.state == {} or all(len(zero.state[i]) == 0 for i in zero.state)
# The job goes on: the same call, now matching, works on every rank.
zero.step([np.ones(7), np.ones((3, 2))])
assert not np.array_equal(ps[0], before[0])

# A bad whole state_dict (a buffer of the wrong shape; an entry that is no dict) is
# refused on every rank and changes nothing.
zero.consolidate_state_dict(to=0)
good = zero.state_dict() if RANK == 0 else None
for corrupt in ("shape", "entry"):
    bad = None
    if RANK == 0:
        bad = {**good, "state": {i: dict(e) for i, e in good["state"].items()}}
        if corrupt == "shape":
            bad["state"][1]["exp_avg"] = np.zeros((2, 3))
        else:
            bad["state"][0] = 5
    try:
        zero.load_state_dict(bad)
    except (ValueError, TypeError) as exc:
        print(f"rank {RANK} bad state_dict ({corrupt}): {exc}"[:300], flush=True)
    else:
        raise AssertionError(f"a state_dict with a bad {corrupt} was loaded")
zero.consolidate_state_dict(to=0)
if RANK == 0:
    after = zero.state_dict()
    for i, entry in good["state"].items():
        for k, v in entry.items():
            assert np.array_equal(np.asarray(after["state"][i][k]), np.asarray(v)), (i, k)
done("mismatch")
