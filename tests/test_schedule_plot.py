"""Drawing schedules: fusedoptim.schedules.plot_schedules and `python -m fusedoptim schedules`
write a non-empty PNG; without matplotlib, a clear ImportError."""
import subprocess
import sys

import pytest

from fusedoptim import schedules as S

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    data = path.read_bytes()
    return len(data) > 1000 and data.startswith(PNG_MAGIC)


def test_plot_schedules_dict_and_list(tmp_path):
    pytest.importorskip("matplotlib")
    scheds = {"cosine": S.cosine_decay_schedule(0.1, 100),
              "lectures piecewise": S.piecewise_constant_schedule([0.1, 0.01], [50])}
    out = tmp_path / "a" / "dict.png"   # missing folders are made
    assert S.plot_schedules(scheds, 120, out, title="two") == out
    assert _is_png(out)
    out2 = tmp_path / "list.png"
    S.plot_schedules(list(scheds.items()), range(0, 120, 3), str(out2))
    assert _is_png(out2)


def test_plot_schedules_bad_input(tmp_path):
    with pytest.raises(TypeError, match="schedules"):
        S.plot_schedules({"x": 0.1}, 10, tmp_path / "x.png")
    with pytest.raises(TypeError, match="schedules"):
        S.plot_schedules(42, 10, tmp_path / "x.png")
    with pytest.raises(ValueError, match="schedules"):
        S.plot_schedules({}, 10, tmp_path / "x.png")
    with pytest.raises(ValueError, match="steps"):
        S.plot_schedules({"c": S.constant_schedule(0.1)}, 0, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_plot_schedules_without_matplotlib(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # makes `import matplotlib` fail
    with pytest.raises(ImportError, match="pip install matplotlib"):
        S.plot_schedules({"c": S.constant_schedule(0.1)}, 10, tmp_path / "x.png")


def test_cli_subcommand_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "schedules.png"
    res = subprocess.run([sys.executable, "-m", "fusedoptim", "schedules", "--out", str(out),
                          "--steps", "300"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert str(out) in res.stdout
    assert _is_png(out)


def test_cli_subcommand_help_and_bad_steps(tmp_path):
    res = subprocess.run([sys.executable, "-m", "fusedoptim", "schedules", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "--steps" in res.stdout and "--out" in res.stdout
    res = subprocess.run([sys.executable, "-m", "fusedoptim", "schedules", "--steps", "1",
                          "--out", str(tmp_path / "x.png")], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 2 and "--steps" in res.stderr
