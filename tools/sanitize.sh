#!/usr/bin/env bash
# The sanitizer run: builds fusedoptim with AddressSanitizer and UndefinedBehaviorSanitizer
# (CMake option FUSEDOPTIM_SANITIZE: -fsanitize=address,undefined, every report fatal)
# into build/sanitize, then runs the test suite on that build with the ASan
# runtime preloaded into Python. Fails on a test failure and on any sanitizer report,
# including reports from child processes (the fuzz tests run their calls in children).
#
#   bash tools/sanitize.sh                 # the test suite
#   bash tools/sanitize.sh tests/test_x.py # any pytest arguments instead
#   bash tools/sanitize.sh --no-build ...  # again on the last build (build/sanitize/site)
#
# Needs GCC with its sanitizer runtimes (libasan, libubsan) and an environment with the test
# extras (pip install ".[test]"); the build itself is a pip wheel, so pip fetches the
# build requirements as for a normal install. The installed fusedoptim is not touched:
# the tests import the sanitized build from build/sanitize/site.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/build/sanitize
start=$(date +%s)

build=1
if [ "${1:-}" = "--no-build" ]; then
  build=0
  shift
fi

# ---- build (a full one: pip's isolated build environment moves pybind11 every time)
rm -rf "$out/reports"
if [ "$build" = 1 ]; then
  rm -rf "$out/wheel" "$out/site"
  python -m pip wheel --no-deps --quiet --wheel-dir "$out/wheel" . \
    -Cbuild-dir="$out/cmake" -Ccmake.build-type=RelWithDebInfo \
    -Ccmake.define.FUSEDOPTIM_SANITIZE=ON
  python - "$out" <<'PY'
import glob, sys, zipfile
out = sys.argv[1]
(wheel,) = glob.glob(f"{out}/wheel/fusedoptim-*.whl")
zipfile.ZipFile(wheel).extractall(f"{out}/site")
PY
fi
built=$(date +%s)
echo "sanitize.sh: built in $((built - start)) s"

# ---- run
# Every test file that runs this build's native code in the test process or its
# children. Left out: the tests that build other things or run under an emulator
# (test_cuda_build, test_wheel, test_cross_build, test_portable: compilers and qemu,
# not this build), and the slow whole-program ones whose subject is Python code
# (bench, demo, CLI, schedules, data, the kill-and-reload loop), which would take
# CI's time without reaching more native code.
if [ "$#" -eq 0 ]; then
  set -- tests/test_native_fuzz.py tests/test_bad_input.py tests/test_device_bad_input.py \
    tests/test_native_vs_reference.py tests/test_plan.py tests/test_threads.py \
    tests/test_many_groups.py tests/test_losses.py tests/test_vector.py tests/test_clip.py \
    tests/test_device.py tests/test_device_packing.py tests/test_device_clip.py \
    tests/test_device_half.py \
    tests/test_state_dict.py tests/test_api.py tests/test_functional_validation.py \
    tests/test_nonfinite_hyperparameters.py tests/test_second_order.py \
    tests/test_properties.py tests/test_callable_lr.py tests/test_checkpoint.py tests/test_pack.py \
    tests/test_half_convert.py tests/test_master_weights.py tests/test_stochastic_rounding.py \
    tests/test_mixed_blocks.py \
    tests/test_eightbit_native.py tests/test_eightbit.py tests/test_eightbit_device.py \
    -k "not Muon"
fi
# Muon's rows are left out: its native passes are plain elementwise rules like every
# other family here, and its Newton-Schulz is NumPy's BLAS, which under ASan's allocator
# spends ~25 s a test in page faults (measured: 6 rows of test_native_vs_reference took
# 148 s). BLAS on one thread: its spinning workers would compete with OpenMP's.
export OPENBLAS_NUM_THREADS=1
mkdir -p "$out/reports"
# The ASan runtime must be the first library loaded: Python itself is not instrumented.
# libstdc++ is preloaded too: ASan finds the C++ runtime's __cxa_throw when it starts,
# and Python does not link libstdc++ (without it, the first C++ exception aborts).
# The UBSan runtime is a dependency of the modules and loads with them.
export LD_PRELOAD="$(${CXX:-g++} -print-file-name=libasan.so) $(${CXX:-g++} -print-file-name=libstdc++.so)"
# detect_leaks=0: CPython does not free everything at exit (interned objects, module
# state, arenas), by design; LeakSanitizer would report those, not fusedoptim's.
# detect_odr_violation=0: _core and _cuda_emulator each link their own copy of the
# shared checks (hidden symbols, distinct objects), which ASan's ODR check reports.
# Every report stops the process (halt_on_error; -fno-sanitize-recover=all in the build),
# which fails the run, or the test whose child process it was. ASan's reports also go to
# files (log_path), checked at the end, in case a test expects a child to fail; UBSan's,
# handled by the ASan runtime, go to stderr only.
export ASAN_OPTIONS="detect_leaks=0:detect_odr_violation=0:halt_on_error=1:abort_on_error=1:log_path=$out/reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# Python objects from the system allocator, so that ASan sees them too.
export PYTHONMALLOC=malloc
# torch is blocked (tools/sanitize_blocked/torch): its libraries are not built for the
# preloaded ASan runtime; tests that need it skip.
export PYTHONPATH="$out/site:$root/tools/sanitize_blocked${PYTHONPATH:+:$PYTHONPATH}"
python -c "
import fusedoptim, sys
assert fusedoptim.__file__.startswith('$out/site'), fusedoptim.__file__
print('sanitize.sh: testing', fusedoptim.__file__, fusedoptim.build_info()['isa'])"
status=0
# --capture=sys: pytest captures what Python prints, not file descriptor 2, so a report
# that stops the process still reaches the terminal (with fd capture it would be lost).
python -m pytest -p no:cacheprovider --capture=sys -q "$@" || status=$?
end=$(date +%s)
if compgen -G "$out/reports/*" >/dev/null; then
  echo "sanitize.sh: sanitizer reports:" >&2
  cat "$out"/reports/* >&2
  status=1
fi
echo "sanitize.sh: tests in $((end - built)) s, $((end - start)) s in all (exit status $status)"
exit "$status"
