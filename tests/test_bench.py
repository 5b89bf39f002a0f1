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
           "--implementations", "all", "--threads", "1,2", "--out", str(out),
           "--markdown", str(out / "results.md")]
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
    assert all(isinstance(r["suspect"], bool) for r in rows + data["sweep"])
    assert set(data["targets"]) == {"meets", "misses", "suspect", "blocks"}
    assert len(data["plan"]) == len({(r["workload"], r["dtype"], r["threads"], r["optimizer"])
                                     for r in rows + data["sweep"] + data["overhead"]})
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


# ---------------------------------------------------------------- the size plan
# A newcomer's first command is the default run: its largest measurement, with every
# comparison copy alive at once, must fit a laptop. The plan is what the runner
# allocates, so checking the plan checks the run (its speed is never asserted).

def _cli_config(*argv):
    import argparse

    from fusedoptim.cli import bench as cli

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.config_from(parser.parse_args(list(argv)))


def test_default_plan_peaks_under_2_gb():
    from fusedoptim.bench.plan import size_plan

    plan = size_plan(_cli_config())
    assert plan.peak_bytes < 2e9, plan.describe()
    # The default still measures the real workloads, ResNet-50 included, at full size.
    shapes = {m.workload: m.n_values for m in plan.measurements if m.section == "rows"}
    assert shapes["resnet50"] == 25_557_032 and set(shapes) == set(WORKLOADS)
    assert max(m.n_values for m in plan.measurements) <= plan.max_values


def test_max_values_enlarges_the_plan():
    from fusedoptim.bench.plan import size_plan

    default, big = size_plan(_cli_config()), size_plan(_cli_config("--max-values", "1e8"))
    assert max(m.n_values for m in big.measurements) == 100_000_000
    assert big.peak_bytes > default.peak_bytes
    small = size_plan(_cli_config("--max-values", "2e7"))
    assert all(m.workload != "resnet50" for m in small.measurements)
    assert any("resnet50" in line for line in small.left_out)


def test_plan_estimate_counts_every_copy():
    """Hand-counted: large-one Adam float32 with the default implementations is the
    params and grads (2 arrays), four own copies of param + two buffers (12),
    fusedoptim's own grads (1), the roofline none (it runs over fusedoptim's arrays)
    and torch's three temporaries of the one tensor."""
    from fusedoptim.bench.plan import size_plan

    cfg = _cli_config("--workloads", "large-one", "--optimizers", "adam", "--threads", "1",
                      "--no-sweep", "--no-overhead")
    (m,) = size_plan(cfg).measurements
    a = (1 << 24) * 4
    assert set(m.implementations) == {"fusedoptim", "numpy", "torch", "torch-fused", "roofline"}
    assert m.array_bytes == (2 + 12 + 1 + 3) * a


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_plan_estimate_matches_what_the_run_allocates():
    """The runner records how far a measurement raised the process's peak resident
    size (VmHWM); for the first measurement of a process, on a workload whose arrays
    are all larger than malloc's mmap threshold (so each is a fresh mapping that shows
    in the RSS), it must be close to the plan's estimate: not above it, and not far
    below (the estimate is an upper bound of the temporaries)."""
    code = (
        "import json, sys\n"
        "from fusedoptim.bench.runner import Config, run\n"
        "cfg = Config(workloads=['large-one'], optimizers=['adam'], threads=[1], repeats=1,"
        " sweep=False, overhead=False)\n"
        "print(json.dumps(run(cfg, progress=False)['plan']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout.strip().splitlines()[-1])
    if entry["measured_bytes"] is None:
        pytest.skip("this system does not report the peak RSS, or the import peaked higher")
    est, got = entry["estimated_bytes"], entry["measured_bytes"]
    assert 0.8 * est <= got <= 1.03 * est + 20e6, entry


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_a_measurement_gives_its_memory_back():
    """ResNet-50's mid-size tensors come from malloc's heap, which keeps freed memory
    resident: the next measurement's arrays then came on top of it (the default run
    peaked at 2.09 GB that way). After a measurement the process is back near its
    size before it."""
    code = (
        "import numpy as np\n"
        "from fusedoptim.bench import memory, runner\n"
        "from fusedoptim.bench.workloads import resnet50_shapes\n"
        "side = runner._Side(runner.Config(), None)\n"
        "rng = np.random.default_rng(0)\n"
        "runner._measure(side, 'adam', [(8,)], np.dtype('float32'), rng, ['fusedoptim'], 1)\n"
        "before = memory.rss_bytes()\n"
        "runner._measure(side, 'adam', resnet50_shapes()[:120], np.dtype('float32'), rng,\n"
        "                ['fusedoptim', 'numpy', 'roofline'], 1)\n"
        "print(before, memory.rss_bytes(), memory.peak_rss_bytes())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    before, after, peak = map(int, proc.stdout.split())
    assert peak - before > 100e6  # the measurement did hold its arrays
    assert after - before < 0.1 * (peak - before), (before, after, peak)


def test_sizes_that_do_not_fit_the_available_memory_are_skipped(monkeypatch, capsys):
    from fusedoptim.bench import memory
    from fusedoptim.bench.plan import size_plan
    from fusedoptim.bench.runner import Config, run

    cfg = Config(workloads=["mlp", "large-one"], optimizers=["sgd-momentum"], threads=[1],
                 implementations=["fusedoptim", "roofline"], repeats=1, sweep=False,
                 overhead=False)
    by_wl = {m.workload: m.array_bytes for m in size_plan(cfg).measurements}
    assert by_wl["mlp"] < by_wl["large-one"]
    # Enough for mlp, not for large-one.
    monkeypatch.setattr(memory, "available_bytes", lambda: int(by_wl["mlp"] * 1.5))
    result = run(cfg, progress=False)
    assert {r["workload"] for r in result["rows"]} == {"mlp"}
    (skipped,) = result["skipped"]
    assert "large-one" in skipped and "available" in skipped
    assert skipped in capsys.readouterr().out


# ------------------------------------------------------------- the roofline method
# The roofline bounds a one-pass step only if it moves the same bytes through the same
# memory: it runs over fusedoptim's own params, grads and state buffers.

def test_roofline_runs_over_the_optimizers_own_arrays():
    import numpy as np

    from fusedoptim.bench import runner

    for key in OPTIMIZERS:
        rng = np.random.default_rng(1)
        fns = runner._step_fns(runner._Side(runner.Config(), None), key, [(30,), (4, 5)],
                               np.dtype("float32"), rng, ["fusedoptim", "roofline"])
        ours, roof = fns["fusedoptim"].arrays, fns["roofline"].arrays
        # 2 tensors x (p, g, buffers); Adafactor: variance of (30,), row_var and col_var of (4, 5)
        assert len(roof) == (7 if key == "adafactor" else 2 * (2 + OPTIMIZERS[key][2]))
        assert {id(a) for a in roof} == {id(a) for a in ours}, key


def test_comparison_copies_leave_the_shared_grads_alone():
    """Every implementation reads the one copy of the grads: none may write it."""
    import numpy as np

    from fusedoptim.bench import impls

    for key in OPTIMIZERS:
        rng = np.random.default_rng(2)
        params = [rng.standard_normal(s).astype(np.float32) for s in [(40,), (3, 7)]]
        grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
        before = [g.copy() for g in grads]
        shared = {}
        for name, factory in impls.IMPLEMENTATIONS.items():
            fn = factory(key, params, grads, shared)
            if fn is not None:
                for _ in range(3):
                    fn()
        for g, b in zip(grads, before):
            np.testing.assert_array_equal(g, b, err_msg=key)


def _block(impl_ms, workload="resnet50", threads=1):
    """Synthetic rows of one block: {impl: ms}; fractions as the runner computes them."""
    from fusedoptim.bench.runner import _rows

    samples = {k: [v / 1e3] * 3 for k, v in impl_ms.items()}
    ctx = dict(workload=workload, dtype="float64", threads=threads, optimizer="adam")
    return _rows(ctx, samples, 1000, 56)


def test_rows_above_105_percent_of_the_roofline_are_suspect_and_not_counted():
    from fusedoptim.bench import report

    rows = (_block({"fusedoptim": 21.1, "torch-fused": 41.5, "roofline": 47.2})  # 224%
            + _block({"fusedoptim": 10.0, "torch-fused": 11.0, "roofline": 9.8}, "large-one")
            + _block({"fusedoptim": 10.0, "torch-fused": 9.0, "roofline": 9.0}, "large-one", 2))
    by = {(r["workload"], r["impl"]): r for r in rows}
    assert by[("resnet50", "fusedoptim")]["suspect"] is True
    assert by[("large-one", "fusedoptim")]["suspect"] is False
    counts = report.target_counts(rows)
    assert counts == {"meets": 1, "misses": 1, "suspect": 1}
    summary = report.targets(rows)
    assert "suspect" in summary and "1 meet" in summary
    assert "suspect" in report.table(rows)
    md = report.markdown({"rows": rows, "sweep": [], "overhead": []})
    assert md.count("suspect") >= 1 and "| resnet50 |" in md


def test_torch_fused_above_the_roofline_makes_the_block_suspect():
    """torch fused works on arrays of its own: beating the roofline by more than 5%
    means its arrays lie better than ours, so its ratio to us is not counted."""
    from fusedoptim.bench import report

    rows = _block({"fusedoptim": 10.0, "torch-fused": 9.0, "roofline": 10.0}, "large-one")
    assert report.target_counts(rows) == {"meets": 0, "misses": 0, "suspect": 1}
    rows = _block({"fusedoptim": 10.0, "torch-fused": 9.6, "roofline": 10.0}, "large-one")
    assert report.target_counts(rows) == {"meets": 0, "misses": 1, "suspect": 0}


def test_105_percent_itself_is_not_suspect():
    rows = _block({"fusedoptim": 100.0, "roofline": 105.0})
    assert not any(r["suspect"] for r in rows)
    rows = _block({"fusedoptim": 100.0, "roofline": 105.2})
    assert [r["impl"] for r in rows if r["suspect"]] == ["fusedoptim"]
