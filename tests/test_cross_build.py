"""The CMake build on a non-x86 processor: configured for aarch64 with a cross compiler.

No x86 flag may reach any compile command there (the ISA objects are x86-only), and the
scalar kernels, plain C++, must compile and come out vectorised by the compiler (NEON).
Builds the kernel object (fo_isa) and the engine's objects, which need no Python headers
for the target; the binding files do, and a cross build has none.

Runs only where the cross compiler is installed (Debian: apt-get install -y
g++-aarch64-linux-gnu) together with cmake and ninja; skipped otherwise, CI included.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CROSS = "aarch64-linux-gnu-g++"
ENGINE = ["engine/multi_tensor.cpp", "engine/dispatch.cpp", "engine/cpu_features.cpp",
          "engine/parallel.cpp", "losses/cross_entropy.cpp"]
EM_AARCH64 = 183  # ELF e_machine
X86_FLAG = re.compile(r"(^|\s)-m(avx|fma|sse|arch|tune|prefer-vector-width|mmx|bmi|f16c)")


def _tools():
    tools = {name: shutil.which(name) for name in (CROSS, "cmake", "ninja")}
    missing = [name for name, path in tools.items() if not path]
    if missing:
        pytest.skip(f"cross build needs {', '.join(missing)} (apt-get install -y "
                    "g++-aarch64-linux-gnu; cmake and ninja from pip or apt)")
    return tools


def _e_machine(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[18:20], "little")


def test_aarch64_build_gets_no_x86_flags_and_vectorises_the_scalar_kernels(tmp_path):
    tools = _tools()
    pybind11 = pytest.importorskip("pybind11")
    toolchain = tmp_path / "aarch64.cmake"
    toolchain.write_text("set(CMAKE_SYSTEM_NAME Linux)\nset(CMAKE_SYSTEM_PROCESSOR aarch64)\n"
                         f"set(CMAKE_CXX_COMPILER {tools[CROSS]})\n")
    build = tmp_path / "build"
    configure = subprocess.run(
        [tools["cmake"], "-S", str(ROOT), "-B", str(build), "-G", "Ninja",
         f"-DCMAKE_MAKE_PROGRAM={tools['ninja']}", "-DCMAKE_BUILD_TYPE=Release",
         f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", f"-DPython_EXECUTABLE={sys.executable}",
         # The host's headers satisfy find_package(Python); no file built here includes them.
         f"-DPython_INCLUDE_DIR={sysconfig.get_paths()['include']}",
         f"-Dpybind11_DIR={pybind11.get_cmake_dir()}"],
        capture_output=True, text=True, timeout=600)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert "kernels for the scalar path only on aarch64" in configure.stdout, configure.stdout

    flags = [line for line in (build / "build.ninja").read_text().splitlines()
             if line.strip().startswith("FLAGS =")]
    assert flags and not [f for f in flags if X86_FLAG.search(f)], flags

    objects = ["fo_isa"] + [f"CMakeFiles/_core.dir/csrc/{src}.o" for src in ENGINE]
    compiled = subprocess.run([tools["cmake"], "--build", str(build), "--target", *objects],
                              capture_output=True, text=True, timeout=1200)
    assert compiled.returncode == 0, compiled.stdout[-6000:] + compiled.stderr[-6000:]

    kernels = next(build.rglob("kernels_scalar.cpp.o"))
    built = [kernels] + [build / obj for obj in objects[1:]]
    assert all(_e_machine(obj) == EM_AARCH64 for obj in built), built
    # The scalar kernels are vectorised: NEON arithmetic on whole registers (v<n>.4s for
    # float32 lanes, v<n>.2d for float64), where the objdump of the cross binutils exists.
    objdump = shutil.which("aarch64-linux-gnu-objdump")
    if objdump:
        asm = subprocess.run([objdump, "-d", str(kernels)], capture_output=True, text=True,
                             timeout=600, check=True).stdout
        for lanes in ("4s", "2d"):
            assert re.search(rf"\bf(add|mul|mla|sqrt|div)\s+v\d+\.{lanes}", asm), \
                f"no vector {lanes} arithmetic in kernels_scalar.o"
