"""`fusedoptim bench --distributed --quick` on two MPI ranks: the table has every phase,
the numbers are positive, ZeRO-1 keeps half the state per rank; and `--model` reads that
run back. Speed itself is never asserted."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import pytest

import fusedoptim


def _mpirun():
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.access(here, os.X_OK) else shutil.which("mpirun")


MPIRUN = _mpirun()
pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None,
                       reason="mpi4py is not installed (pip install 'fusedoptim[mpi]')"),
    pytest.mark.skipif(MPIRUN is None, reason="no mpirun next to the interpreter or on PATH "
                                              "(pip install 'fusedoptim[mpi]' brings MPICH's)"),
]


def _env():
    env = dict(os.environ)
    # the children import this same fusedoptim (a checkout on PYTHONPATH or the installed one)
    root = os.path.dirname(os.path.dirname(fusedoptim.__file__))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    return env


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("dbench")
    cmd = [MPIRUN, "-n", "2", sys.executable, "-m", "mpi4py", "-m", "fusedoptim", "bench",
           "--distributed", "--quick", "--json", str(out / "n2.json"),
           "--markdown", str(out / "n2.md")]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=_env())
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"mpirun -n 2 ... bench --distributed --quick took over 60 s: {exc.stdout}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stdout, json.loads((out / "n2.json").read_text())


def test_table_has_every_phase(two_ranks):
    out, stdout, _ = two_ranks
    for column in ("reduce-scatter ms", "update ms", "all-gather ms", "allreduce ms",
                   "state/rank", "ZeRO-1", "plain DP"):
        assert column in stdout
    assert (out / "n2.md").read_text().count("| resnet50 | adam | 2 |") == 4


def test_numbers_are_positive_and_state_is_halved(two_ranks):
    _, _, data = two_ranks
    rows = data["rows"]
    assert data["ranks"] == 2
    assert {(r["scheme"], r["layout"]) for r in rows} == {
        (s, lay) for s in ("zero1", "dp") for lay in ("flat", "separate")}
    for r in rows:
        want = {"agree", "reduce_scatter", "update", "all_gather"} if r["scheme"] == "zero1" \
            else {"allreduce", "update"}
        assert set(r["phases"]) == want
        assert r["step"] > 0 and all(t > 0 for t in r["phases"].values())
        assert r["params_agree"]
        assert len(r["state_bytes"]) == 2
    for layout in ("flat", "separate"):
        zero = next(r for r in rows if r["scheme"] == "zero1" and r["layout"] == layout)
        dp = next(r for r in rows if r["scheme"] == "dp" and r["layout"] == layout)
        full = dp["state_bytes"][0]
        assert dp["state_bytes"] == [full, full]
        # Adam: two float32 buffers per value; each rank keeps its half (give or take the
        # shards' one-value imbalance and the per-piece step counts)
        assert full == 8 * dp["values"]
        for mine in zero["state_bytes"]:
            assert mine == pytest.approx(full / 2, rel=0.01)
        assert sum(zero["state_bytes"]) == pytest.approx(full, rel=0.01)


def test_sweep_and_fit(two_ranks):
    _, _, data = two_ranks
    kinds = {r["kind"] for r in data["sweep"]}
    assert kinds == {"allreduce", "reduce_scatter", "all_gather"}
    assert all(r["seconds"] > 0 and r["ranks"] == 2 for r in data["sweep"])
    assert data["fit"]["alpha"] >= 0 and data["fit"]["beta"] > 0


def test_model_reads_the_run(two_ranks, tmp_path):
    out, _, _ = two_ranks
    cmd = [sys.executable, "-m", "fusedoptim", "bench", "--model", "--fit", str(out / "n2.json"),
           "--json", str(tmp_path / "model.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=_env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MODEL" in proc.stdout and "| 1024 |" in proc.stdout
    data = json.loads((tmp_path / "model.json").read_text())
    assert data["update_bandwidth"] > 0 and data["fitted"]["beta"] > 0
    assert data["network"]["beta"] == pytest.approx(12.5e9)
