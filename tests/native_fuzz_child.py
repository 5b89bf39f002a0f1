"""The child process of tests/test_native_fuzz.py: makes the known-bad calls or runs
the fuzzers, printing each call before making it, so that a crash (which kills this
process, not pytest) is reported with the offending call.

    python tests/native_fuzz_child.py known START    # the known-bad calls from START
    python tests/native_fuzz_child.py fuzz START     # the fuzzers from START

Protocol on stdout: "@@START i", "@@CALL <call>", "@@DONE i <json status>".
"""
from __future__ import annotations

import faulthandler
import json
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hypothesis import strategies as st  # noqa: E402

from native_fuzz_common import _core, describe  # noqa: E402
from native_fuzz_gen import FUZZERS  # noqa: E402
from native_fuzz_known import KNOWN_BAD  # noqa: E402

EXAMPLES = int(os.environ.get("FUSEDOPTIM_FUZZ_EXAMPLES", "40"))
CASE_TIMEOUT_S = 60  # a call that runs longer is reported as a hang


def _say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _restore_runtime(threads, isa):
    _core.set_num_threads(threads)
    _core.set_isa(isa)


def _run_known(start):
    threads, isa = _core.get_num_threads(), _core.get_isa()
    for i in range(start, len(KNOWN_BAD)):
        entry, what, call, expected = KNOWN_BAD[i]
        _say(f"@@START {i}")
        _say(f"@@CALL {entry}: {what}")
        faulthandler.dump_traceback_later(CASE_TIMEOUT_S, exit=True)
        try:
            call()
            status = {"ok": False, "why": "no exception"}
        except BaseException as e:  # noqa: B902 - anything but a crash is reported
            name = f"{type(e).__module__}.{type(e).__qualname__}"
            ok = isinstance(e, expected) and not isinstance(e, SystemError)
            status = {"ok": ok, "why": f"{name}: {e}"[:400]}
        finally:
            faulthandler.cancel_dump_traceback_later()
            _restore_runtime(threads, isa)
        _say(f"@@DONE {i} {json.dumps(status)}")


def _explain(e: BaseException) -> str:
    """The message of a failure, and of each failure hypothesis grouped in it."""
    text = "".join(traceback.format_exception_only(type(e), e))
    for sub in getattr(e, "exceptions", ()):
        text += "\n- " + _explain(sub)
    return text


def _run_fuzz(start):
    from hypothesis import HealthCheck, Phase, given, settings

    threads, isa = _core.get_num_threads(), _core.get_isa()
    names = list(FUZZERS)
    for i in range(start, len(names)):
        name = names[i]
        fuzzer = FUZZERS[name]
        _say(f"@@START {i}")
        counts = {"raised": 0, "returned": 0}

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink])
        @given(st.data())
        def check(data):
            fn, args, must_raise = fuzzer(data)
            _say(f"@@CALL {name}: {describe(args)}")
            faulthandler.dump_traceback_later(CASE_TIMEOUT_S, exit=True)
            try:
                fn(*args)
            except SystemError as e:
                raise AssertionError(f"SystemError (a C-API misuse) from {describe(args)}: {e}")
            except Exception:  # noqa: BLE001 - raising is what wrong input must do
                counts["raised"] += 1
                return
            finally:
                faulthandler.cancel_dump_traceback_later()
                _restore_runtime(threads, isa)
            counts["returned"] += 1
            if must_raise:
                raise AssertionError(f"accepted a wrong call: {describe(args)}")

        try:
            check()
            status = {"ok": True, "why": f"{counts}"}
        except BaseException as e:  # noqa: B902
            status = {"ok": False, "why": _explain(e)[-3000:]}
        _say(f"@@DONE {i} {json.dumps(status)}")


if __name__ == "__main__":
    faulthandler.enable()
    mode, first = sys.argv[1], int(sys.argv[2])
    {"known": _run_known, "fuzz": _run_fuzz}[mode](first)
