"""The compiled modules trust no caller (issue 13, item 7): every entry point of
fusedoptim._core and fusedoptim._cuda_emulator raises a Python exception, and never
crashes the process, on wrong types, dtypes, shapes, strides, ranges and list
lengths.

The calls (tests/native_fuzz_known.py, tests/native_fuzz_gen.py) run in a child interpreter that prints each
call before making it: a crash or a hang fails the case with the offending call and
the child's traceback, and the child is restarted after it. The hypothesis fuzzers
are derandomized (the same examples on every run; FUSEDOPTIM_FUZZ_EXAMPLES sets how
many per entry point, 40 by default: about 40 s in all on a busy 2-core machine).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import fusedoptim
from native_fuzz_common import entry_points
from native_fuzz_gen import FUZZERS, fuzzed_entries
from native_fuzz_known import KNOWN_BAD, known_bad_entries

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "native_fuzz_child.py")
CHILD_TIMEOUT_S = 600


def _run_child(mode: str, n: int, script: str = CHILD, env=None) -> dict[int, dict]:
    """Runs cases [0, n) of `mode` in child processes; one status per case. A child that
    dies is restarted after the case it died in, which is reported as a crash."""
    env = dict(os.environ if env is None else env)
    root = os.path.dirname(os.path.dirname(fusedoptim.__file__))
    env["PYTHONPATH"] = os.pathsep.join([root, HERE, env.get("PYTHONPATH", "")])
    results: dict[int, dict] = {}
    start = 0
    while start < n:
        proc = subprocess.run([sys.executable, script, mode, str(start)], env=env,
                              capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
        current, call = None, None
        for line in proc.stdout.splitlines():
            if line.startswith("@@START "):
                current, call = int(line.split()[1]), None
            elif line.startswith("@@CALL "):
                call = line[len("@@CALL "):]
            elif line.startswith("@@DONE "):
                _, idx, status = line.split(" ", 2)
                results[int(idx)] = json.loads(status)
                current = None
        if proc.returncode == 0 and current is None:
            break
        failed = current if current is not None else start
        results[failed] = {"ok": False, "why": (
            f"the child process died (exit status {proc.returncode}) during {call}\n"
            f"--- its stderr (end) ---\n{proc.stderr[-4000:]}")}
        start = failed + 1
    return results


@pytest.fixture(scope="module")
def known_results():
    return _run_child("known", len(KNOWN_BAD))


@pytest.fixture(scope="module")
def fuzz_results():
    return _run_child("fuzz", len(FUZZERS))


@pytest.mark.parametrize("index", range(len(KNOWN_BAD)),
                         ids=[f"{c[0]}: {c[1]}" for c in KNOWN_BAD])
def test_known_bad_call_raises(known_results, index):
    entry, what, _, expected = KNOWN_BAD[index]
    status = known_results.get(index, {"ok": False, "why": "never ran"})
    names = expected.__name__ if isinstance(expected, type) else [e.__name__ for e in expected]
    assert status["ok"], f"{entry} ({what}): expected {names}, got {status['why']}"


@pytest.mark.parametrize("index", range(len(FUZZERS)), ids=list(FUZZERS))
def test_fuzz_entry_point(fuzz_results, index):
    name = list(FUZZERS)[index]
    status = fuzz_results.get(index, {"ok": False, "why": "never ran"})
    assert status["ok"], f"{name}: {status['why']}"


def test_every_entry_point_is_fuzzed():
    """A new function, class or method of a compiled module fails here until it has
    known-bad calls and a fuzzer."""
    entries = set(entry_points())
    assert "_core.softmax_xent" in entries and "_core.Plan.run" in entries
    no_fuzzer = sorted(entries - fuzzed_entries())
    no_known_bad = sorted(entries - known_bad_entries())
    assert not no_fuzzer, f"entry points without a fuzzer: {no_fuzzer}"
    assert not no_known_bad, f"entry points without known-bad calls: {no_known_bad}"


def test_the_harness_reports_a_crash_and_goes_on(tmp_path):
    """A child that segfaults in case 1 of 3: case 1 is reported with the call it died
    in, and cases 0 and 2 still run (the harness must not hide crashes)."""
    script = tmp_path / "crash.py"
    script.write_text(
        "import ctypes, faulthandler, sys\n"
        "faulthandler.enable()\n"
        "for i in range(int(sys.argv[2]), 3):\n"
        "    print(f'@@START {i}'); print(f'@@CALL case {i}', flush=True)\n"
        "    if i == 1: ctypes.string_at(8)\n"
        "    print(f'@@DONE {i} {{\"ok\": true, \"why\": \"\"}}', flush=True)\n")
    # Without the sanitizer's runtime (tools/sanitize.sh), which would report this
    # deliberate crash as a finding.
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS")}
    results = _run_child("known", 3, script=str(script), env=env)
    assert results[0]["ok"] and results[2]["ok"]
    assert not results[1]["ok"]
    assert "during case 1" in results[1]["why"] and "Fatal Python error" in results[1]["why"]
