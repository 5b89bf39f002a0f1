"""The package loads and runs on every x86-64 CPU NumPy supports, picking the widest
path the CPU and the OS allow, and no code compiled with ISA flags can run before
that choice.

- Under emulated CPUs (qemu-user, tests/emulated_cpu.py): Nehalem-v1 (SSE4.2, no AVX)
  must pick scalar, Haswell-v4 (AVX2+FMA) avx2; natively the widest this CPU has.
  tests/isa_probe.py compares one step of every registry optimizer, the norms and the
  loss with the reference on each.
- Without an emulator: the ISA objects, built here by CMake exactly as the package
  builds them, hold no dynamic initializer and no symbol but their kernel table
  (tools/check_isa_objects.py), and the checker itself flags both kinds of early code
  in an object made to have them.
"""
import os
import shutil
import subprocess
import sys

import pytest

from emulated_cpu import CPUS, run_python

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROBE = os.path.join(HERE, "isa_probe.py")
CHECKER = os.path.join(ROOT, "tools", "check_isa_objects.py")


def best_isa_from_proc() -> str:
    """The widest path by the kernel's own view of the CPU (Linux lists avx2/avx512f in
    /proc/cpuinfo only when the OS enabled their register state)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        pytest.skip("no /proc/cpuinfo to compare the detection with")
    if {"avx2", "fma", "avx512f"} <= set(flags):
        return "avx512"
    if {"avx2", "fma"} <= set(flags):
        return "avx2"
    return "scalar"


def assert_probe_ok(result, isa):
    out = result.stdout + result.stderr
    assert result.returncode == 0, f"exit status {result.returncode}:\n{out[-4000:]}"
    assert f"PROBE OK {isa}" in result.stdout, out[-4000:]


@pytest.mark.parametrize("cpu", sorted(CPUS))
def test_emulated_cpu_picks_its_path_and_matches_reference(cpu, tmp_path):
    result = run_python(cpu, [PROBE, CPUS[cpu]], env={"FUSEDOPTIM_ISA": ""})
    assert_probe_ok(result, CPUS[cpu])


def _fingerprint(cpu, env):
    result = run_python(cpu, [PROBE, "--fingerprint"], env=env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    line = next(l for l in result.stdout.splitlines() if l.startswith("FINGERPRINT"))
    _, isa, mixed, digest = line.split()
    return isa, mixed, digest


def test_every_path_gives_the_same_bits():
    """Every optimizer but Muon in every dtype mode (tests/isa_probe.py --fingerprint)
    hashes the same on the scalar path (Nehalem under qemu), the avx2 path (Haswell under
    qemu, on tiles and in register blocks) and every path this CPU has."""
    pytest.importorskip("ml_dtypes")
    runs = {}
    for cpu in sorted(CPUS):
        runs[cpu] = _fingerprint(cpu, {"FUSEDOPTIM_ISA": ""})
    runs["Haswell-v4 tiles"] = _fingerprint("Haswell-v4", {"FUSEDOPTIM_ISA": "",
                                                           "FUSEDOPTIM_MIXED_TILES": "1"})
    for isa in fusedoptim_build_info()["isa_supported"]:
        for extra in ({}, {"FUSEDOPTIM_MIXED_TILES": "1"}, {"FUSEDOPTIM_NO_AVX512BF16": "1"}):
            runs[f"native {isa} {extra}"] = _fingerprint(None, {"FUSEDOPTIM_ISA": isa, **extra})
    digests = {digest for _, _, digest in runs.values()}
    assert len(digests) == 1, "\n".join(f"{k}: {v}" for k, v in runs.items())
    assert {mixed for _, mixed, _ in runs.values()} >= {"tiles", "avx2"}


def fusedoptim_build_info():
    import fusedoptim  # imported where needed: the checker tests do not load the package
    return fusedoptim.build_info()


def test_native_cpu_picks_the_widest_path():
    isa = best_isa_from_proc()
    assert_probe_ok(run_python(None, [PROBE, isa], env={"FUSEDOPTIM_ISA": ""}), isa)


@pytest.mark.parametrize("cpu,forced", [("Nehalem-v1", "avx2"), ("Haswell-v4", "avx512")])
def test_forcing_a_path_the_cpu_lacks_is_a_clear_error(cpu, forced):
    result = run_python(cpu, ["-c", "import fusedoptim"], env={"FUSEDOPTIM_ISA": forced})
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert f"FUSEDOPTIM_ISA={forced}: this CPU does not support it" in result.stderr


def test_forcing_scalar_on_an_avx2_cpu():
    result = run_python("Haswell-v4", [PROBE, "scalar"], env={"FUSEDOPTIM_ISA": "scalar"})
    assert_probe_ok(result, "scalar")


# --- no emulator needed -------------------------------------------------------------

def _compiler():
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        pytest.skip("no C++ compiler")
    return cxx


@pytest.fixture(scope="module")
def isa_objects(tmp_path_factory):
    """The fo_isa objects, configured and compiled by CMake from this source tree."""
    _compiler()
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake not found")
    import pybind11

    build = tmp_path_factory.mktemp("isa-build")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run([cmake, "-S", ROOT, "-B", str(build), *gen, "-DCMAKE_BUILD_TYPE=Release",
                    f"-DPython_EXECUTABLE={sys.executable}",
                    f"-Dpybind11_DIR={pybind11.get_cmake_dir()}", "-DFUSEDOPTIM_CUDA=OFF",
                    "-DFUSEDOPTIM_CUDA_EMULATOR=OFF"],
                   check=True, capture_output=True, text=True)
    subprocess.run([cmake, "--build", str(build), "--target", "fo_isa", "-j", "2"],
                   check=True, capture_output=True, text=True)
    objs = sorted(str(p) for p in build.rglob("*.o") if "fo_isa.dir" in str(p))
    assert objs, "CMake built no fo_isa objects"
    return objs


def test_isa_objects_have_no_code_that_runs_before_the_cpu_check(isa_objects):
    names = {os.path.basename(o) for o in isa_objects}
    if sys.platform.startswith("linux") and os.uname().machine == "x86_64":
        expected = {f"{kind}_{isa}.cpp.o" for kind in ("kernels", "adafactor", "blockwise8")
                    for isa in ("scalar", "avx2", "avx512")}
        expected |= {"blockwise8_avx512vbmi.cpp.o"}
        expected |= {f"mixed_{isa}.cpp.o" for isa in ("avx2", "avx512", "avx512bf16")}
        assert names == expected
    result = subprocess.run([sys.executable, CHECKER, *isa_objects], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


BAD_SOURCE = r"""
#include <cmath>
namespace fusedoptim {
inline double helper(double x) { return std::sqrt(x) + 1.0; }   // weak, ISA-flagged
double (*volatile keep)(double) = &helper;                      // emits it out of line
struct Table { double v; Table() : v(std::sqrt(keep(2.0))) {} };
extern const Table kTable_fake;
const Table kTable_fake{};                                      // dynamic initializer
}
"""


def test_checker_flags_a_static_initializer_and_a_weak_symbol(tmp_path):
    src = tmp_path / "bad.cpp"
    src.write_text(BAD_SOURCE)
    obj = tmp_path / "bad.o"
    subprocess.run([_compiler(), "-std=c++17", "-O2", "-fPIC", "-c", str(src), "-o", str(obj)],
                   check=True)
    result = subprocess.run([sys.executable, CHECKER, str(obj)], capture_output=True, text=True)
    assert result.returncode == 1
    assert ".init_array" in result.stderr
    assert "weak symbol _ZN10fusedoptim6helperEd" in result.stderr
    assert "global symbol _ZN10fusedoptim4keepE" in result.stderr
