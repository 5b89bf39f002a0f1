"""fusedoptim.distributed: the MPI scripts of tests/mpi_scripts run under ``mpirun -n 2``
and ``-n 4`` (loopback, one machine; each under a timeout, so a hang fails instead of
stalling the suite), and the parts that need no MPI (shard cutting, flat buffers) here.

The scripts check values themselves and exit non-zero on any failure (they run under
``python -m mpi4py``, which aborts the job on an exception); each rank prints
"OK <script> rank r of n" at the end."""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fusedoptim.distributed import flat_params
from fusedoptim.distributed._flat import flat_runs
from fusedoptim.distributed._shards import cut

SCRIPTS = Path(__file__).parent / "mpi_scripts"
TIMEOUT = 180  # seconds per mpirun; the slowest script takes ~10 s on 2 loaded cores


def _mpirun():
    here = Path(sys.executable).parent
    for name in ("mpirun", "mpiexec"):
        if (here / name).exists():
            return str(here / name)
    return shutil.which("mpirun") or shutil.which("mpiexec")


def _missing():
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'fusedoptim[mpi]'; the test extra has it)"
    if _mpirun() is None:
        return "no mpirun (MPICH's wheel brings one: pip install 'fusedoptim[mpi]')"
    return None


needs_mpi = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def launch(n, *argv):
    """``mpirun -n n python -m mpi4py *argv`` under the timeout: (exit status, output)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [_mpirun(), "-n", str(n), sys.executable, "-m", "mpi4py", *map(str, argv)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv} on {n} ranks did not finish in {TIMEOUT} s (a hang?):\n"
                    f"{(exc.stdout or '')[-3000:]}")
    return out.returncode, out.stdout + out.stderr


def mpirun(n, script, *args):
    """Run ``script`` on ``n`` ranks; fail with its output unless every rank said OK."""
    rc, text = launch(n, SCRIPTS / script, *args)
    assert rc == 0, f"{script} on {n} ranks: exit {rc}\n{text[-6000:]}"
    name = Path(script).stem
    for r in range(n):
        assert f"OK {name} rank {r} of {n}" in text, text[-6000:]
    return text


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_data_parallel_equals_one_process_with_averaged_grads(n):
    mpirun(n, "data_parallel.py")


@needs_mpi
@pytest.mark.parametrize("saved_on,resumed_on", [(4, 2), (2, 4), (3, 1)])
def test_zero_equals_one_process_and_resumes_on_another_world_size(tmp_path, saved_on, resumed_on):
    mpirun(saved_on, "zero_equivalence.py", tmp_path, 60)
    mpirun(resumed_on, "zero_resume.py", tmp_path, 60, 40, saved_on)


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_mismatched_calls_raise_on_every_rank(n):
    text = mpirun(n, "mismatch.py")
    for r in range(n):
        assert f"rank {r} another collective" in text and f"rank {r} bad grad shape" in text
        assert f"rank {r} bad state_dict (shape)" in text and f"rank {r} bad state_dict (entry)" in text


@needs_mpi
def test_distributed_demo_reaches_the_single_process_accuracy():
    """`mpirun -n 2 ... fusedoptim demo --distributed --quick`: ZeRO-1 Adam on 2 ranks
    against one process, same batches: the same test accuracy (within one test image of
    450: the grads differ only in the order of their sums) and weights within 1e-4."""
    pytest.importorskip("sklearn")
    rc, text = launch(2, "-m", "fusedoptim", "demo", "--distributed", "--quick")
    assert rc == 0, text[-4000:]
    zero = float(re.search(r"on 2 ranks: test accuracy ([0-9.]+)", text).group(1))
    one = float(re.search(r"one process: +test accuracy ([0-9.]+)", text).group(1))
    diff = float(re.search(r"final weights: ([0-9.e+-]+)", text).group(1))
    assert abs(zero - one) <= 1 / 450 + 1e-9 and one >= 0.95 and diff < 1e-4, text
    # The one-process run is the single-process demo's Adam run (same batches, same steps).
    import fusedoptim
    from fusedoptim.cli import demo
    dtype = np.dtype(np.float32)
    data = demo.load_digits(0, dtype)
    _, _, kwargs, _ = next(r for r in demo.RUNS if r[0] == "Adam")
    single = demo.train_one("Adam", fusedoptim.Adam, kwargs, False, data, demo.QUICK_EPOCHS,
                            "none", 0, dtype)
    assert abs(single["test_acc"] - one) <= 5e-5, (single["test_acc"], one)  # printed to 4 places


def test_only_the_distributed_package_imports_mpi4py():
    code = ("import sys, fusedoptim, fusedoptim.distributed; "
            "assert 'mpi4py' not in sys.modules, 'imported at import time'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


# ------------------------------------------------------------- without MPI
@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 64])
def test_shards_are_balanced_by_values_and_tile_every_param(size):
    rng = np.random.default_rng(size)
    sizes = [int(s) for s in rng.integers(0, 50, 23)] + [1000, 0, 1]
    dtypes = [np.dtype(np.float32) if i % 3 else np.dtype(np.float64) for i in range(len(sizes))]
    groups = [i // 10 for i in range(len(sizes))]
    covered = [np.zeros(s, dtype=int) for s in sizes]
    for rank in range(size):
        spaces, pieces = cut(sizes, dtypes, groups, size, rank)
        for s, sp in enumerate(spaces):
            counts = sp.counts()
            assert sum(counts) == sp.total and max(counts) - min(counts) <= size - 1
            assert counts[:-1] == [sp.total // size] * (size - 1)  # equal blocks: Allgather
            mine = [pc for pc in pieces if pc.space == s]
            # a rank's pieces of one space fill its shard in order, with no gap
            assert sum(pc.hi - pc.lo for pc in mine) == counts[rank]
            assert [pc.at for pc in mine] == list(np.cumsum([0] + [pc.hi - pc.lo for pc in mine])[:-1])
        for pc in pieces:
            assert 0 <= pc.lo < pc.hi <= sizes[pc.index] and pc.group == groups[pc.index]
            covered[pc.index][pc.lo:pc.hi] += 1
    assert all(np.all(c == 1) for c in covered)  # every value has exactly one owner


def test_flat_params_are_views_of_one_buffer_and_found_as_one_run():
    ps = flat_params({"w": (3, 4), "b": 4, "s": ()}, np.float64)
    base = ps["w"].base
    assert base.size == 17 and all(p.base is base for p in ps.values())
    runs = flat_runs(list(ps.values()))
    assert len(runs) == 1 and runs[0][2].size == 17
    runs[0][2][:] = np.arange(17)
    np.testing.assert_array_equal(ps["b"], [12, 13, 14, 15])
    # separate arrays, or views out of order, are runs of their own
    assert [r[2] for r in flat_runs([np.ones(2), np.ones(3)])] == [None, None]
    assert len(flat_runs([ps["b"], ps["w"]])) == 2


def test_flat_params_refuse_bad_shapes_and_dtypes():
    with pytest.raises(TypeError, match="dtype"):
        flat_params([(2,)], np.int32)
    with pytest.raises(ValueError, match=r"shapes\[1\]"):
        flat_params([(2,), (-1, 3)])
