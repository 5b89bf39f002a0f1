"""The optional CUDA extension compiles (nvcc, sm_80 + sm_90 + compute_90 PTX) and
imports on this machine, GPU or not: its device queries answer, and without a
driver or a device they say so instead of failing to import. Skipped where nvcc,
cmake or pybind11 is missing. Takes about a minute (nvcc over every rule)."""
import importlib.util
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not found")
@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake not found")
@pytest.mark.skipif(importlib.util.find_spec("pybind11") is None, reason="pybind11 not installed")
def test_cuda_extension_builds_and_imports(tmp_path):
    import pybind11

    configure = ["cmake", "-S", str(ROOT), "-B", str(tmp_path), "-DFUSEDOPTIM_CUDA=ON",
                 "-DFUSEDOPTIM_CUDA_EMULATOR=OFF", f"-DPython_EXECUTABLE={sys.executable}",
                 f"-Dpybind11_DIR={pybind11.get_cmake_dir()}"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"]
    subprocess.run(configure, check=True, capture_output=True, text=True)
    build = subprocess.run(["cmake", "--build", str(tmp_path), "--target", "_cuda", "-j", "2"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    built = list(tmp_path.glob("_cuda*.so")) + list(tmp_path.glob("_cuda*.pyd"))
    assert len(built) == 1
    probe = textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import _cuda
        info = _cuda.device_info()
        assert not info["emulated"], info
        assert info["runtime_version"].split(".")[0].isdigit(), info
        assert "80" in info["architectures"] and "90" in info["architectures"], info
        assert info["devices"] or info["error"], info
        for name in ("run", "validate", "check_params", "Plan", "StalePlan", "pack_layout",
                     "blockwise8_check", "blockwise8_step"):
            assert hasattr(_cuda, name), name
        print(info)
    """)
    out = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
