"""The bench tool's quick mode: output files written, every implementation present,
numbers positive. Speed itself is never asserted here."""
import json
import subprocess
import sys

import pytest

from fusedoptim.bench.workloads import OPTIMIZERS, WORKLOADS, numel, resnet50_shapes


def test_resnet50_has_its_real_parameter_count():
    shapes = resnet50_shapes()
    assert len(shapes) == 161
    assert numel(shapes) == 25_557_032


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    cmd = [sys.executable, "-m", "fusedoptim", "bench", "--quick", "--optimizers", "all",
           "--threads", "1,2", "--out", str(out), "--markdown", str(out / "results.md")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out, proc.stdout, json.loads((out / "results.json").read_text())


def test_quick_run_covers_everything(quick_run):
    out, stdout, data = quick_run
    rows = data["rows"]
    impls = {"fusedoptim", "numpy", "roofline", "triad"}
    try:
        import torch  # noqa: F401
        impls |= {"torch", "torch-foreach", "torch-fused"}
    except ImportError:
        pass
    assert {r["impl"] for r in rows} == impls
    assert {r["optimizer"] for r in rows} == set(OPTIMIZERS)
    assert {r["workload"] for r in rows} == set(WORKLOADS)
    assert {r["threads"] for r in rows} == {1, 2}
    for r in rows + data["sweep"] + data["overhead"]:
        assert r["ms"] > 0 and r["gb_per_s"] > 0 and r["ns_per_value"] > 0
        assert all(x > 0 for x in r["samples_ms"])
    assert data["sweep"] and data["overhead"]
    assert "Summary" in stdout and "Per-call overhead" in stdout
    assert data["machine"]["fusedoptim"]["isa"]
    md = (out / "results.md").read_text()
    assert md.count("| small-many |") == len(OPTIMIZERS) * 2 and "Size sweep" in md


def test_quick_run_writes_chart(quick_run):
    pytest.importorskip("matplotlib")
    out, _, _ = quick_run
    png = out / "results.png"
    assert png.exists() and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_option_is_reported():
    proc = subprocess.run([sys.executable, "-m", "fusedoptim", "bench", "--optimizers", "nope",
                           "--quick"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "nope" in proc.stdout
