"""The training demo, the optimizer-paths pictures and the example script: they run,
reach their accuracy, and write non-empty PNGs. Subprocesses, a few seconds each."""
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
METHODS = ("GD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "Rprop", "Newton")
FUNCTIONS = ("canyon", "rosenbrock", "beale", "saddle")
DEMO_RUNS = ("SGD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop")


def fusedoptim_cli(*args, pre="", timeout=300):
    """``python -m fusedoptim ARGS``; ``pre``: Python run first (e.g. to hide a module)."""
    code = f"import sys\n{pre}\nfrom fusedoptim.cli.main import main\nsys.exit(main(sys.argv[1:]))"
    env = dict(os.environ, OMP_NUM_THREADS="1")  # light on a shared machine; same results
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def assert_png(path):
    assert os.path.isfile(path), path
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == PNG_MAGIC and os.path.getsize(path) > 5000, path


@pytest.fixture(scope="module")
def demo_quick(tmp_path_factory):
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("demo")
    proc = fusedoptim_cli("demo", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, out


def table_rows(stdout, names):
    """{name: the first five numbers of its table row}: the rows that start with a
    name and hold at least five numbers (the first such row per name)."""
    rows = {}
    for line in stdout.splitlines():
        first = line.split(maxsplit=1)[0] if line.strip() else ""
        numbers = re.findall(r"(?<![\w.=])(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)%?(?!\S*=)", line)
        if first in names and first not in rows and len(numbers) >= 5:
            rows[first] = [float(x) for x in numbers[:5]]
    return rows


def test_demo_quick_adam_reaches_95_percent(demo_quick):
    proc, out = demo_quick
    rows = table_rows(proc.stdout, DEMO_RUNS)
    assert set(rows) == set(DEMO_RUNS), proc.stdout
    train_acc, test_acc, final_loss, seconds, steps = rows["Adam"]
    assert test_acc >= 95.0, proc.stdout
    assert train_acc >= 95.0 and 0 <= final_loss < 0.5 and steps > 0
    results = json.loads((out / "results.json").read_text())
    by_name = {r["optimizer"]: r for r in results["runs"]}
    assert list(by_name) == list(DEMO_RUNS)
    assert by_name["Adam"]["test_acc"] >= 0.95
    assert abs(by_name["Adam"]["test_acc"] * 100 - test_acc) < 0.01
    for r in results["runs"]:  # every optimizer trains
        assert np.isfinite(r["final_loss"]) and r["test_acc"] > 0.8, r["optimizer"]
        assert len(r["loss_curve"]) == results["epochs"]
    assert "Adam test accuracy" in proc.stdout


def test_demo_progress_bars_on_stderr(demo_quick):
    proc, _ = demo_quick
    for name in DEMO_RUNS:
        assert re.search(rf"^{name}\s+\[#+\]", proc.stderr, re.M), proc.stderr


def test_demo_writes_the_loss_curves_png(demo_quick):
    pytest.importorskip("matplotlib")
    proc, out = demo_quick
    assert_png(out / "loss_curves.png")
    assert "loss_curves.png" in proc.stdout


def test_demo_schedule_and_dtype(tmp_path):
    pytest.importorskip("sklearn")
    proc = fusedoptim_cli("demo", "--epochs", "2", "--schedule", "cosine", "--dtype", "float64",
                          "--seed", "3", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert (results["epochs"], results["schedule"], results["dtype"], results["seed"]) == \
        (2, "cosine", "float64", 3)


@pytest.mark.parametrize("command", ["demo", "paths"])
def test_help(command, capsys):
    from fusedoptim.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "--out" in capsys.readouterr().out


def test_demo_bad_epochs(tmp_path):
    proc = fusedoptim_cli("demo", "--epochs", "0", "--out", str(tmp_path))
    assert proc.returncode == 2 and "--epochs" in proc.stderr


def test_demo_without_scikit_learn_says_so(tmp_path):
    proc = fusedoptim_cli("demo", "--quick", "--out", str(tmp_path),
                          pre="sys.modules['sklearn'] = None")
    assert proc.returncode == 1
    assert "scikit-learn" in proc.stderr and "pip install" in proc.stderr


def test_schedules():
    from fusedoptim.cli.demo import lr_factor

    assert [lr_factor("none", e, 8) for e in range(8)] == [1.0] * 8
    assert [lr_factor("step", e, 8) for e in range(8)] == [1, 1, .5, .5, .25, .25, .125, .125]
    cos = [lr_factor("cosine", e, 4) for e in range(4)]
    np.testing.assert_allclose(cos, [1.0, (1 + np.sqrt(.5)) / 2, 0.5, (1 - np.sqrt(.5)) / 2])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_gradients_against_finite_differences(dtype):
    from fusedoptim.cli import _mlp

    rng = np.random.default_rng(0)
    params = _mlp.init_params((5, 7, 6, 3), rng, np.float64)  # two hidden layers
    x, y = rng.normal(size=(8, 5)), rng.integers(0, 3, 8)
    loss, grads = _mlp.loss_and_grads(params, x, y)
    assert [g.shape for g in grads] == [p.shape for p in params]
    h = 1e-6
    for p, g in zip(params, grads):
        num = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            old = p[i]
            p[i] = old + h
            up = _mlp.loss_and_grads(params, x, y)[0]
            p[i] = old - h
            down = _mlp.loss_and_grads(params, x, y)[0]
            p[i] = old
            num[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)
    # the dtype carries through: float32 params and data give float32 grads
    p32 = [p.astype(dtype) for p in params]
    g32 = _mlp.loss_and_grads(p32, x.astype(dtype), y)[1]
    assert all(g.dtype == dtype and g.flags.c_contiguous for g in g32)


@pytest.fixture(scope="module")
def paths_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("paths")
    proc = fusedoptim_cli("paths", "--steps", "300", "--out", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, out


def test_paths_table_names_every_method_and_function(paths_run):
    proc, _ = paths_run
    lines = proc.stdout.splitlines()
    header = next(line for line in lines if line.startswith("method"))
    for name in FUNCTIONS:
        assert name in header
    for m in METHODS:
        row = next((line for line in lines if line.split()[:1] == [m]), None)
        assert row is not None, (m, proc.stdout)
        cells = re.findall(r"\d+|did not|diverged", row)
        assert len(cells) >= len(FUNCTIONS), row


def test_paths_writes_a_png_per_function(paths_run):
    pytest.importorskip("matplotlib")
    _, out = paths_run
    for name in FUNCTIONS:
        assert_png(out / f"paths_{name}.png")


def test_paths_outcomes():
    from fusedoptim.cli import paths as P

    canyon, saddle = P.FUNCTIONS[0], P.FUNCTIONS[-1]
    gd = P.METHODS[0]
    steps, cell = P.outcome(canyon, P.trace(gd, canyon, 400), 400, 1e-3)
    assert steps is not None and 0 < steps <= 400 and cell == str(steps)
    assert P.outcome(canyon, P.trace(gd, canyon, 5), 5, 1e-3)[1].startswith("did not")
    by_label = {m.label: m for m in P.METHODS}
    steps, _ = P.outcome(saddle, P.trace(by_label["Rprop"], saddle, 200), 200, 1e-3)
    assert steps is not None
    # Newton: one step on the quadratic canyon, and damping takes it off the saddle
    assert P.outcome(canyon, P.trace(by_label["Newton"], canyon, 10), 10, 1e-12)[0] == 1
    assert P.outcome(saddle, P.trace(by_label["Newton"], saddle, 50), 50, 1e-3)[0] is not None
    wild = P.Function2D(**{**canyon.__dict__, "hyper": {"GD": dict(lr=1.0)}})
    assert P.outcome(wild, P.trace(gd, wild, 1000), 1000, 1e-3)[1].startswith("diverged")
    # analytic gradients and Hessians against finite differences
    for fn in P.FUNCTIONS:
        p, h = np.array([0.7, 0.4]), 1e-6
        e = np.eye(2) * h
        num = np.array([(fn.f(*(p + e[i])) - fn.f(*(p - e[i]))) / (2 * h) for i in range(2)])
        np.testing.assert_allclose(fn.grad(p), num, rtol=1e-6, atol=1e-8, err_msg=fn.name)
        num = np.array([(fn.grad(p + e[i]) - fn.grad(p - e[i])) / (2 * h) for i in range(2)])
        np.testing.assert_allclose(fn.hess(p), num, rtol=1e-5, atol=1e-6, err_msg=fn.name)


def test_paths_without_matplotlib_still_prints_the_table(tmp_path):
    proc = fusedoptim_cli("paths", "--steps", "20", "--out", str(tmp_path),
                          pre="sys.modules['matplotlib'] = None")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "skipped" in proc.stdout and "pip install matplotlib" in proc.stdout
    assert not list(tmp_path.glob("*.png"))


def test_example_trains(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "train_mlp.py")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    acc = float(re.search(r"^test accuracy: ([\d.]+)$", proc.stdout, re.M).group(1))
    assert acc >= 0.9, proc.stdout
    with open(os.path.join(ROOT, "examples", "train_mlp.py")) as f:
        assert len(f.read().splitlines()) < 60
