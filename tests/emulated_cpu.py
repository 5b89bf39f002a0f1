"""Running Python under an emulated x86-64 CPU (Debian's qemu-user), for the tests that
prove the package imports and picks the right path on CPUs without AVX2 or AVX-512.

qemu-x86_64 runs the same binaries on a chosen CPU model: Nehalem-v1 (x86-64-v2, SSE4.2,
no AVX: the oldest CPU NumPy 2.x supports) and Haswell-v4 (AVX2 + FMA, no AVX-512).
.ci/run installs qemu-user when it is missing, so on this project's machines these tests
run in CI. Elsewhere they skip with the reason, except under CI=true, where a missing
emulator is a failure: CI must never pass without running them.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys

import pytest

# CPU model -> the ISA path fusedoptim must pick on it.
CPUS = {"Nehalem-v1": "scalar", "Haswell-v4": "avx2"}


def qemu() -> str:
    """Path of qemu-x86_64; skips the test (fails it under CI=true) where there is none."""
    path = shutil.which("qemu-x86_64")
    if path and platform.machine() in ("x86_64", "AMD64"):
        return path
    reason = ("qemu-x86_64 not found (apt-get install -y qemu-user)" if not path
              else f"emulated x86-64 CPUs need an x86-64 host, not {platform.machine()}")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: the emulated-CPU tests must run, but {reason}")
    pytest.skip(reason)


def run_python(cpu: str | None, args: list[str], python: str = sys.executable,
               timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python args...` natively (cpu None) or under qemu-x86_64 -cpu <cpu>; output captured."""
    cmd = [python, *args] if cpu is None else [qemu(), "-cpu", cpu, python, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
