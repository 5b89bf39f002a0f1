"""The known-bad calls of tests/test_native_fuzz.py: for every entry point of the
compiled modules, calls that must raise (which exceptions, per call)."""
from __future__ import annotations

import numpy as np

from native_fuzz_common import (CAI, CODE_PAGE, R, SGD, SPECS, MAX_THREADS, _core, _emu, cai,
                                dev_sgd_work, readonly, sgd_work, strided, unaligned,
                                uninitialized)



class _RaisingEq:
    def __eq__(self, other):
        raise ValueError("no comparison")

    __hash__ = object.__hash__

def host_plan():
    works = [sgd_work(2)]
    return _core.Plan(works), [np.ones(3), np.ones(3)], [(0.1, 0.9, 0.0, 0.0)]


def dev_plan():
    works = [dev_sgd_work(2)]
    return _emu.Plan(works), [cai(np.ones(3)), cai(np.ones(3))], [(0.1, 0.0, 0.0, 0.0)]


def _reduce_dev(make=None, arrays=None, kind=0, others=None):
    arrays = arrays if arrays is not None else [cai(np.ones(5), readonly=True)]
    make = make or (lambda n: cai(np.zeros(n)))
    return lambda: _emu.reduce(kind, arrays, 1.0, None, others, make, 0)


def _xent(logits, targets, scale=1.0):
    return lambda: _core.softmax_xent(logits, targets, scale)


def _run(works):
    return lambda: _core.run(works)


TV = (TypeError, ValueError)
# pybind11's own enum methods take `self` as any object and fail as Python would.
PYBIND_ENUM = (TypeError, ValueError, AttributeError)


def _known_bad():
    """(entry, what, call, exceptions it may raise). Each must raise one of them."""
    z23 = np.zeros((2, 3))
    w = sgd_work
    cases = [
        # softmax_xent: labels are re-checked natively (the example first).
        ("_core.softmax_xent", "label 10**9 >= C", _xent(z23, np.array([0, 10**9])), ValueError),
        ("_core.softmax_xent", "label -1", _xent(z23, np.array([0, -1])), ValueError),
        ("_core.softmax_xent", "label == C", _xent(z23, np.array([3, 0])), ValueError),
        ("_core.softmax_xent", "label -2**63", _xent(z23, np.array([0, -2**63])), ValueError),
        ("_core.softmax_xent", "labels, C = 0", _xent(np.zeros((2, 0)), np.array([0, 0])), ValueError),
        ("_core.softmax_xent", "big-endian int64 labels", _xent(z23, np.array([0, 1], ">i8")),
         TypeError),
        ("_core.softmax_xent", "int32 labels", _xent(z23, np.array([0, 1], np.int32)), TypeError),
        ("_core.softmax_xent", "uint64 labels", _xent(z23, np.array([0, 1], np.uint64)), TypeError),
        ("_core.softmax_xent", "float labels", _xent(z23, np.array([0.0, 1.0])), TV),
        ("_core.softmax_xent", "labels too short", _xent(z23, np.array([0])), ValueError),
        ("_core.softmax_xent", "strided labels", _xent(z23, np.zeros(4, np.int64)[::2]), ValueError),
        ("_core.softmax_xent", "unaligned labels", _xent(z23, unaligned((2,), np.int64)), ValueError),
        ("_core.softmax_xent", "0-d targets", _xent(z23, np.array(0)), ValueError),
        ("_core.softmax_xent", "3-d targets", _xent(z23, np.zeros((2, 3, 1))), ValueError),
        ("_core.softmax_xent", "probs of another shape", _xent(z23, np.zeros((3, 2))), ValueError),
        ("_core.softmax_xent", "probs of another dtype", _xent(z23, np.zeros((2, 3), np.float32)),
         TypeError),
        ("_core.softmax_xent", "list logits", _xent([[0.0, 1.0]], np.array([0])), TypeError),
        ("_core.softmax_xent", "list targets", _xent(z23, [0, 1]), TypeError),
        ("_core.softmax_xent", "None logits", _xent(None, np.array([0])), TypeError),
        ("_core.softmax_xent", "0-d logits", _xent(np.zeros(()), np.array(0)), ValueError),
        ("_core.softmax_xent", "1-d logits", _xent(np.zeros(3), np.array([0, 0, 0])), ValueError),
        ("_core.softmax_xent", "int logits", _xent(np.zeros((2, 3), np.int64), np.array([0, 1])),
         TypeError),
        ("_core.softmax_xent", "strided logits", _xent(strided((2, 3), np.float64), np.array([0, 1])),
         ValueError),
        ("_core.softmax_xent", "grad_scale None", _xent(z23, np.array([0, 1]), None), TypeError),
        # run / validate: the work tuples
        ("_core.run", "works not a list", lambda: _core.run(w()), TypeError),
        ("_core.run", "work a list", _run([list(w())]), TypeError),
        ("_core.run", "work of 4 items", _run([w()[:4]]), TypeError),
        ("_core.run", "family -1", _run([(-1,) + w()[1:]]), ValueError),
        ("_core.run", "family past the table", _run([(len(SPECS),) + w()[1:]]), ValueError),
        ("_core.run", "family 2**70", _run([(2**70,) + w()[1:]]), TV),
        ("_core.run", "family a str", _run([("sgd",) + w()[1:]]), TypeError),
        ("_core.run", "family a float", _run([(0.0,) + w()[1:]]), TypeError),
        ("_core.run", "flags -1", _run([w()[:1] + (-1,) + w()[2:]]), TV),
        ("_core.run", "flags 2**40", _run([w()[:1] + (2**40,) + w()[2:]]), TV),
        ("_core.run", "flags None", _run([w()[:1] + (None,) + w()[2:]]), TypeError),
        ("_core.run", "unknown flag bit", _run([w()[:1] + (1 << 20,) + w()[2:]]), ValueError),
        ("_core.run", "3 scalars for 4", _run([w()[:2] + ((0.1, 0.0, 0.0),) + w()[3:]]), ValueError),
        ("_core.run", "scalars None", _run([w()[:2] + (None,) + w()[3:]]), TypeError),
        ("_core.run", "scalar a str", _run([w()[:2] + (("x", 0, 0, 0),) + w()[3:]]), TypeError),
        ("_core.run", "operands None", _run([w()[:3] + (None, None)]), TypeError),
        ("_core.run", "2 operand lists for 3", _run([w()[:3] + (w()[3][:2], None)]), ValueError),
        ("_core.run", "params a bare array", _run([w()[:3] + ((np.zeros(3), [np.ones(3)], None),
                                                              None)]), TypeError),
        ("_core.run", "grads one short", _run([w()[:3] + (([np.zeros(3)], [], None), None)]),
         ValueError),
        ("_core.run", "momentum buffers missing", _run([w(momentum=True)[:3] +
                                                        (w()[3], None)]), TypeError),
        ("_core.run", "names too long", _run([w(names=["a", "b"])]), ValueError),
        ("_core.run", "names an int", _run([w(names=3)]), TypeError),
        ("_core.run", "names a tuple, bad grad", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                        ([np.zeros(3)], [np.zeros(3, np.int8)], None),
                                                        ("p",))]), TypeError),
        ("_core.run", "names a str, bad grad", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                      ([np.zeros(3)], [np.zeros(3, np.int8)], None),
                                                      "p")]), TypeError),
        ("_core.run", "names a dict, bad grad", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                       ([np.zeros(3)], [np.zeros(3, np.int8)], None),
                                                       {0: "p"})]), TV),
        ("_core.run", "grad int64", _run([(SGD, 0, (0.1, 0, 0, 0),
                                           ([np.zeros(3)], [np.zeros(3, np.int64)], None), None)]),
         TypeError),
        ("_core.run", "grad of another shape", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                       ([np.zeros(3)], [np.zeros(4)], None), None)]),
         ValueError),
        ("_core.run", "param strided", _run([(SGD, 0, (0.1, 0, 0, 0),
                                              ([strided((3,), float)], [np.zeros(3)], None), None)]),
         ValueError),
        ("_core.run", "param read-only", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                ([readonly(np.zeros(3))], [np.zeros(3)], None),
                                                None)]), ValueError),
        ("_core.run", "param unaligned", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                ([unaligned((3,), float)], [np.zeros(3)], None),
                                                None)]), ValueError),
        ("_core.run", "grad is the param", _run([(lambda p: (SGD, 0, (0.1, 0, 0, 0), ([p], [p], None),
                                                            None))(np.zeros(3))]), ValueError),
        ("_core.run", "a param in two works", _run((lambda p: [
            (SGD, 0, (0.1, 0, 0, 0), ([p], [np.ones(3)], None), None),
            (SGD, 0, (0.1, 0, 0, 0), ([p], [np.ones(3)], None), None)])(np.zeros(3))), ValueError),
        ("_core.run", "a device array among host arrays", _run([(SGD, 0, (0.1, 0, 0, 0),
                                                                  ([np.zeros(3)], [cai(np.ones(3))],
                                                                   None), None)]), TypeError),
        ("_core.run", "a reduction work", _run([(SPECS["reduce"]["id"], 0, (2.0,), ([np.ones(3)],),
                                                 None)]), ValueError),
        ("_core.validate", "works None", lambda: _core.validate(None), TypeError),
        ("_core.validate", "family past the table",
         lambda: _core.validate([(len(SPECS),) + w()[1:]]), ValueError),
        ("_core.validate", "grad float32 for a float64 param",
         lambda: _core.validate([(SGD, 0, (0.1, 0, 0, 0), ([np.zeros(3)], [np.zeros(3, np.float32)],
                                                            None), None)]), TypeError),
        # Plan
        ("_core.Plan", "works None", lambda: _core.Plan(None), TypeError),
        ("_core.Plan", "a reduction work", lambda: _core.Plan([(SPECS["reduce"]["id"], 0, (2.0,),
                                                                ([np.ones(3)],), None)]), ValueError),
        ("_core.Plan", "params a tuple holding a bad array",
         lambda: _core.Plan([(SGD, 0, (0.1, 0, 0, 0), ((np.zeros(3, int),), [np.ones(3)], None),
                              None)]), TypeError),
        ("_core.Plan.__init__", "self an int", lambda: _core.Plan.__init__(3, [w()]), TypeError),
        ("_core.Plan.run", "grads one short", lambda: (lambda p, g, s: p.run(g[:1], s))(*host_plan()),
         _core.StalePlan),
        ("_core.Plan.run", "grads not a list", lambda: (lambda p, g, s: p.run(tuple(g), s))(*host_plan()),
         TypeError),
        ("_core.Plan.run", "grad int64",
         lambda: (lambda p, g, s: p.run([g[0], np.ones(3, np.int64)], s))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "grad strided",
         lambda: (lambda p, g, s: p.run([g[0], strided((3,), float)], s))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "3 scalars for 4",
         lambda: (lambda p, g, s: p.run(g, [(0.1, 0.9, 0.0)]))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "11 scalars",
         lambda: (lambda p, g, s: p.run(g, [(0.1,) * 11]))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "a scalar a str",
         lambda: (lambda p, g, s: p.run(g, [("x", 0.9, 0.0, 0.0)]))(*host_plan()), TypeError),
        ("_core.Plan.run", "two scalar tuples for one work",
         lambda: (lambda p, g, s: p.run(g, s * 2))(*host_plan()), _core.StalePlan),
        ("_core.Plan.run", "uninitialized Plan", lambda: uninitialized(_core.Plan).run([], []),
         TypeError),
        ("_core.Plan.run", "self an int", lambda: _core.Plan.run(3, [], []), TypeError),
        ("_core.Plan.__len__", "uninitialized Plan", lambda: len(uninitialized(_core.Plan)), TypeError),
        ("_core.Plan._pybind11_conduit_v1_", "garbage",
         lambda: _core.Plan._pybind11_conduit_v1_(3, b"x", b"y"), TypeError),
        # reduce
        ("_core.reduce", "kind out of the enum", lambda: _core.reduce(R(99), [np.ones(3)]), ValueError),
        ("_core.reduce", "kind -1", lambda: _core.reduce(R(-1), [np.ones(3)]), ValueError),
        ("_core.reduce", "kind an int", lambda: _core.reduce(0, [np.ones(3)]), TypeError),
        ("_core.reduce", "arrays None", lambda: _core.reduce(R.SUM_SQUARES, None), TypeError),
        ("_core.reduce", "an int8 array", lambda: _core.reduce(R.SUM_SQUARES, [np.ones(3, np.int8)]),
         TypeError),
        ("_core.reduce", "a strided array", lambda: _core.reduce(R.MAX_ABS, [strided((3,), float)]),
         ValueError),
        ("_core.reduce", "names too short", lambda: _core.reduce(R.MAX_ABS, [np.ones(3)] * 2, 1.0, ["a"]),
         ValueError),
        ("_core.reduce", "names a tuple, bad array",
         lambda: _core.reduce(R.MAX_ABS, [np.ones(3, np.int8)], 1.0, ("a",)), TypeError),
        ("_core.reduce", "dot without others", lambda: _core.reduce(R.DOT, [np.ones(3)]), ValueError),
        ("_core.reduce", "dot, others one short",
         lambda: _core.reduce(R.DOT, [np.ones(3)], 1.0, None, []), ValueError),
        ("_core.reduce", "dot, others of another shape",
         lambda: _core.reduce(R.DOT, [np.ones(3)], 1.0, None, [np.ones(4)]), ValueError),
        ("_core.reduce", "dot, others an int", lambda: _core.reduce(R.DOT, [np.ones(3)], 1.0, None, 5),
         TypeError),
        ("_core.reduce", "scalar a str", lambda: _core.reduce(R.SUM_POW, [np.ones(3)], "x"), TypeError),
        ("_core.Reduction", "a str", lambda: R("x"), TypeError),
        ("_core.Reduction", "2**70", lambda: R(2**70), TypeError),
        ("_core.Reduction.__init__", "self an int", lambda: R.__init__(3, 1), TypeError),
        ("_core.Reduction.__eq__", "self an int", lambda: R.__eq__(3, R.DOT), TypeError),
        ("_core.Reduction.__ne__", "self an int", lambda: R.__ne__(3, R.DOT), TypeError),
        ("_core.Reduction.__hash__", "self a str", lambda: R.__hash__("x"), PYBIND_ENUM),
        ("_core.Reduction.__int__", "self None", lambda: R.__int__(None), TypeError),
        ("_core.Reduction.__index__", "self a str", lambda: R.__index__("x"), TypeError),
        ("_core.Reduction.__repr__", "self an int", lambda: R.__repr__(3), PYBIND_ENUM),
        ("_core.Reduction.__str__", "self an int", lambda: R.__str__(3), PYBIND_ENUM),
        ("_core.Reduction.__getstate__", "self a str", lambda: R.__getstate__("x"), PYBIND_ENUM),
        ("_core.Reduction.__setstate__", "self an int", lambda: R.__setstate__(3, 1), PYBIND_ENUM),
        ("_core.Reduction.name", "self an int", lambda: vars(R)["name"].fget(3), PYBIND_ENUM),
        ("_core.Reduction.value", "self an int", lambda: vars(R)["value"].fget(3), TypeError),
        ("_core.Reduction.__doc__", "self an int", lambda: vars(R)["__doc__"].fget(None, 1), TypeError),
        ("_core.Reduction.__members__", "extra argument",
         lambda: vars(R)["__members__"].fget(R, 1), TypeError),
        ("_core.Reduction._pybind11_conduit_v1_", "garbage",
         lambda: R._pybind11_conduit_v1_(3, b"x", b"y"), TypeError),
        ("_core.StalePlan", "not an exception to call with keywords", lambda: _core.StalePlan(x=1),
         TypeError),
        # check_params
        ("_core.check_params", "arrays an int", lambda: _core.check_params(3), TypeError),
        ("_core.check_params", "an element a list", lambda: _core.check_params([[1.0]]), TypeError),
        ("_core.check_params", "read-only", lambda: _core.check_params([readonly(np.ones(3))]),
         ValueError),
        ("_core.check_params", "the same array twice",
         lambda: (lambda a: _core.check_params([a, a]))(np.ones(3)), ValueError),
        ("_core.check_params", "overlapping views",
         lambda: (lambda a: _core.check_params([a[:3], a[2:]]))(np.ones(5)), ValueError),
        ("_core.check_params", "names too short",
         lambda: _core.check_params([np.ones(3), np.ones(3)], ["a"]), ValueError),
        ("_core.check_params", "names an int", lambda: _core.check_params([np.ones(3)], 5), TypeError),
        ("_core.check_params", "names a tuple, bad array",
         lambda: _core.check_params([np.ones(3, int)], ("a",)), TypeError),
        # threads, ISA, info
        ("_core.set_num_threads", "0", lambda: _core.set_num_threads(0), ValueError),
        ("_core.set_num_threads", "-1", lambda: _core.set_num_threads(-1), ValueError),
        ("_core.set_num_threads", "over the bound", lambda: _core.set_num_threads(MAX_THREADS + 1),
         ValueError),
        ("_core.set_num_threads", "10**6", lambda: _core.set_num_threads(10**6), ValueError),
        ("_core.set_num_threads", "2**40", lambda: _core.set_num_threads(2**40), TV),
        ("_core.set_num_threads", "a float", lambda: _core.set_num_threads(1.5), TypeError),
        ("_core.set_isa", "unknown", lambda: _core.set_isa("avx1024"), ValueError),
        ("_core.set_isa", "a NUL inside", lambda: _core.set_isa("scalar\0"), ValueError),
        ("_core.set_isa", "None", lambda: _core.set_isa(None), TypeError),
        ("_core.get_isa", "an argument", lambda: _core.get_isa(1), TypeError),
        ("_core._stochastic_round", "sizes differ",
         lambda: _core._stochastic_round(np.zeros(3, np.float32), np.zeros(2, np.float16), 1, 0),
         ValueError),
        ("_core._stochastic_round", "a float32 destination",
         lambda: _core._stochastic_round(np.zeros(3, np.float32), np.zeros(3, np.float32), 1, 0),
         TypeError),
        ("_core._stochastic_round", "a negative key",
         lambda: _core._stochastic_round(np.zeros(3, np.float32), np.zeros(3, np.float16), -1, 0),
         TypeError),
        ("_core.same_key", "one argument", lambda: _core.same_key(1), TypeError),
        ("_core.same_key", "an __eq__ that raises",
         lambda: _core.same_key((_RaisingEq(),), [_RaisingEq()]), ValueError),
        ("_core.get_num_threads", "an argument", lambda: _core.get_num_threads(1), TypeError),
        ("_core.build_info", "an argument", lambda: _core.build_info(1), TypeError),
        ("_core.kernel_specs", "an argument", lambda: _core.kernel_specs(1), TypeError),
        ("_core.apply_sums", "a family that does not sum", lambda: _core.apply_sums([sgd_work()]),
         ValueError),
        ("_core.apply_sums", "works None", lambda: _core.apply_sums(None), TypeError),
        ("_core.apply_sums", "an int8 grad",
         lambda: _core.apply_sums(_lars_norms(np.ones(3), np.ones(3, np.int8))), TypeError),
        ("_core.apply_sums", "a strided param",
         lambda: _core.apply_sums(_lars_norms(strided((3,), float), np.ones(3))), ValueError),
        ("_core.adafactor_check", "params None",
         lambda: _core.adafactor_check(None, [], [], [], []), TypeError),
        ("_core.adafactor_check", "a row_var of the wrong shape",
         lambda: _core.adafactor_check([np.ones((3, 4))], [np.ones((3, 4))], [np.zeros((4, 1))],
                                       [np.zeros((1, 4))], [None]), ValueError),
        ("_core.adafactor_step", "a strided param",
         lambda: _core.adafactor_step([strided((3,), float)], [np.ones(3)], [None], [None],
                                      [np.zeros(3)], **_AF_STEP), ValueError),
        ("_core.adafactor_step", "lr a str",
         lambda: _core.adafactor_step([np.ones(3)], [np.ones(3)], [None], [None], [np.zeros(3)],
                                      **dict(_AF_STEP, lr="x")), TypeError),
        # 8-bit blockwise state
        ("_core.blockwise8_check", "kind unknown",
         lambda: _core.blockwise8_check("adamw", [np.ones(3, np.float32)],
                                        [np.ones(3, np.float32)], [np.zeros(3, np.float32)],
                                        None, [None], None, None, None), ValueError),
        ("_core.blockwise8_check", "a float64 param",
         lambda: _core.blockwise8_check("lion", [np.ones(3)], [np.ones(3)], [np.zeros(3)], None,
                                        [None], None, None, None), TypeError),
        ("_core.blockwise8_check", "codes without their absmax",
         lambda: _core.blockwise8_check("momentum", [np.ones(300, np.float32)],
                                        [np.ones(300, np.float32)], [np.zeros(300, np.uint8)],
                                        None, [None], None, np.linspace(-1, 1, 256, dtype=np.float32),
                                        None), (TypeError, ValueError)),
        ("_core.blockwise8_step", "absmax one block short",
         lambda: _core.blockwise8_step("momentum", [np.ones(300, np.float32)],
                                       [np.ones(300, np.float32)], [np.zeros(300, np.uint8)], None,
                                       [np.zeros(1, np.float32)], None,
                                       np.linspace(-1, 1, 256, dtype=np.float32), None, lr=0.1,
                                       momentum=0.9), ValueError),
        ("_core.blockwise8_step", "codes aliasing the param",
         lambda: (lambda b: _core.blockwise8_step(
             "lion", [b[:64].view(np.float32)], [np.ones(64, np.float32)], [b[:64]], None,
             [np.zeros(1, np.float32)], None, np.linspace(-1, 1, 256, dtype=np.float32), None,
             lr=0.1))(np.zeros(256, np.uint8)), ValueError),
        ("_core.blockwise8_step", "lr a str",
         lambda: _core.blockwise8_step("lion", [np.ones(3, np.float32)], [np.ones(3, np.float32)],
                                       [np.zeros(3, np.float32)], None, [None], None, None, None,
                                       lr="x"), TypeError),
        # pack / unpack (gradient buckets)
        ("_core.pack", "out too short", lambda: _core.pack([np.ones(3)], np.zeros(2)), ValueError),
        ("_core.pack", "offset 2**63", lambda: _core.pack([np.ones(3)], np.zeros(4), 2**63), ValueError),
        ("_core.pack", "offset past out by 2**62",
         lambda: _core.pack([np.ones(3)], np.zeros(4), 2**62), ValueError),
        ("_core.pack", "out 2-D", lambda: _core.pack([np.ones(3)], np.zeros((2, 2))), ValueError),
        ("_core.pack", "out read-only", lambda: _core.pack([np.ones(3)], readonly(np.zeros(4))),
         ValueError),
        ("_core.pack", "out unaligned", lambda: _core.pack([np.ones(3)], unaligned((4,), float)),
         ValueError),
        ("_core.pack", "an array in the range written",
         lambda: (lambda b: _core.pack([b[2:5]], b, 1))(np.zeros(8)), ValueError),
        ("_core.pack", "an int8 array", lambda: _core.pack([np.ones(3, np.int8)], np.zeros(4)),
         TypeError),
        ("_core.pack", "arrays None", lambda: _core.pack(None, np.zeros(4)), TypeError),
        ("_core.unpack", "flat too short", lambda: _core.unpack(np.zeros(2), [np.ones(3)]), ValueError),
        ("_core.unpack", "a read-only target",
         lambda: _core.unpack(np.zeros(4), [readonly(np.ones(3))]), ValueError),
        ("_core.unpack", "a strided target", lambda: _core.unpack(np.zeros(8), [strided((3,), float)]),
         ValueError),
        ("_core.unpack", "a target over the range read",
         lambda: (lambda b: _core.unpack(b, [b[3:6]], 1))(np.zeros(8)), ValueError),
        ("_core.unpack", "the same target twice",
         lambda: (lambda a: _core.unpack(np.zeros(8), [a, a]))(np.ones(3)), ValueError),
        ("_core.unpack", "scale nan", lambda: _core.unpack(np.zeros(3), [np.ones(3)], 0, float("nan")),
         ValueError),
        ("_core.unpack", "scale 1e39 for float32",
         lambda: _core.unpack(np.zeros(3, np.float32), [np.ones(3, np.float32)], 0, 1e39), ValueError),
        ("_core.unpack", "a float32 target of a float64 flat",
         lambda: _core.unpack(np.zeros(3), [np.ones(3, np.float32)]), TypeError),
        ("_core.unpack", "offset -1", lambda: _core.unpack(np.zeros(3), [np.ones(3)], -1), ValueError),
    ]
    if _emu is not None:
        cases += _known_bad_emulator()
    return cases


# adafactor_step's scalars, valid
_AF_STEP = dict(lr=0.01, one_minus_beta2=0.5, rho=0.01, eps1=1e-30, eps2=1e-3, d=1.0,
                weight_decay=0.0, maximize=False)


def _lars_norms(param, grad):
    """A work of LARS's norms pass (an update that sums) over one param and grad."""
    return [(SPECS["lars_norms"]["id"], 0, (0.0,), ([param], [grad]), None)]


def _esums(works, make_out=lambda n: cai(np.zeros(n))):
    return lambda: _emu.apply_sums(works, make_out, 0)


def _erun(works, stream=0):
    return lambda: _emu.run(works, stream)


def _dev_work(param, grad=None):
    grad = grad if grad is not None else cai(np.ones(3), readonly=True)
    return [(SGD, 0, (0.1, 0.0, 0.0, 0.0), ([param], [grad], None), None)]


def _known_bad_emulator():
    z = lambda: np.zeros(3)  # noqa: E731
    d = dev_sgd_work
    ro = lambda: cai(np.ones(70_000), readonly=True)  # noqa: E731  (2 chunks: 4 partials)
    return [
        ("_cuda_emulator.apply_sums", "a family that does not sum", _esums(_dev_work(cai(z()))),
         ValueError),
        ("_cuda_emulator.apply_sums", "out too short",
         _esums(_lars_norms(ro(), ro()), lambda n: cai(np.zeros(n - 1))), ValueError),
        ("_cuda_emulator.apply_sums", "out float32",
         _esums(_lars_norms(ro(), ro()), lambda n: cai(np.zeros(n, np.float32))), TypeError),
        ("_cuda_emulator.apply_sums", "out is the param",
         (lambda a: _esums(_lars_norms(cai(a, readonly=True), ro()), lambda n: cai(a)))(
             np.ones(70_000)), ValueError),
        ("_cuda_emulator.apply_sums", "a host array", _esums(_lars_norms(np.ones(3), ro())),
         TypeError),
        ("_cuda_emulator.run", "stream -1", _erun([d()], -1), TypeError),
        ("_cuda_emulator.run", "stream 2**64", _erun([d()], 2**64), TypeError),
        ("_cuda_emulator.run", "a host array among device arrays",
         _erun(_dev_work(np.zeros(3))), TypeError),
        ("_cuda_emulator.run", "param at a bogus address",
         _erun(_dev_work(CAI({"shape": (3,), "typestr": "<f8", "data": (0xDEAD0000, False)}))),
         ValueError),
        ("_cuda_emulator.run", "param at address 8",
         _erun(_dev_work(CAI({"shape": (3,), "typestr": "<f8", "data": (8, False)}))), ValueError),
        ("_cuda_emulator.run", "param in read-only (code) memory",
         _erun(_dev_work(CAI({"shape": (3,), "typestr": "<f8", "data": (CODE_PAGE, False)}))),
         ValueError),
        ("_cuda_emulator.run", "8 GB past a 24-byte buffer",
         _erun(_dev_work(cai(np.zeros(3), shape=(10**9,)),
                         cai(np.ones(3), readonly=True, shape=(10**9,)))), ValueError),
        ("_cuda_emulator.run", "grad at the top of the address space",
         _erun(_dev_work(cai(z()), CAI({"shape": (3,), "typestr": "<f8", "data": (2**64 - 8, True)}))),
         ValueError),
        ("_cuda_emulator.run", "negative shape", _erun(_dev_work(cai(z(), shape=(-1,)))), ValueError),
        ("_cuda_emulator.run", "shape overflowing", _erun(_dev_work(cai(z(), shape=(2**40, 2**40)))),
         ValueError),
        ("_cuda_emulator.run", "shape a list", _erun(_dev_work(cai(z(), shape=[3]))), TypeError),
        ("_cuda_emulator.run", "shape of str", _erun(_dev_work(cai(z(), shape=("3",)))), TypeError),
        ("_cuda_emulator.run", "typestr garbage", _erun(_dev_work(cai(z(), typestr="<fz"))), TypeError),
        ("_cuda_emulator.run", "typestr huge itemsize",
         _erun(_dev_work(cai(z(), typestr="<f99999999999999999999"))), TypeError),
        ("_cuda_emulator.run", "typestr empty", _erun(_dev_work(cai(z(), typestr=""))), TypeError),
        ("_cuda_emulator.run", "typestr an int", _erun(_dev_work(cai(z(), typestr=8))), TypeError),
        ("_cuda_emulator.run", "data None", _erun(_dev_work(cai(z(), data=None))), TypeError),
        ("_cuda_emulator.run", "data of one item", _erun(_dev_work(cai(z(), data=(8,)))), TV),
        ("_cuda_emulator.run", "data a negative address",
         _erun(_dev_work(cai(z(), data=(-8, False)))), ValueError),
        ("_cuda_emulator.run", "param read-only", _erun(_dev_work(cai(z(), readonly=True))), ValueError),
        ("_cuda_emulator.run", "strides of the wrong length",
         _erun(_dev_work(cai(z(), strides=(8, 8)))), TypeError),
        ("_cuda_emulator.run", "strides non-contiguous",
         _erun(_dev_work(cai(np.zeros(6), shape=(3,), strides=(16,)))), ValueError),
        ("_cuda_emulator.run", "negative strides",
         _erun(_dev_work(cai(np.zeros(3), strides=(-8,)))), ValueError),
        ("_cuda_emulator.run", "masked", _erun(_dev_work(cai(z(), mask=cai(np.ones(3, bool))))),
         ValueError),
        ("_cuda_emulator.run", "interface not a dict", _erun(_dev_work(CAI([1, 2]))), TypeError),
        ("_cuda_emulator.run", "interface raising", _erun(_dev_work(CAI(RuntimeError("boom")))),
         RuntimeError),
        ("_cuda_emulator.run", "interface missing data",
         _erun(_dev_work(CAI({"shape": (3,), "typestr": "<f8"}))), TV + (KeyError,)),
        ("_cuda_emulator.run", "grad is the param",
         _erun((lambda p: _dev_work(p, p))(cai(z()))), ValueError),
        ("_cuda_emulator.run", "grad overlaps the param",
         _erun((lambda a: _dev_work(cai(a[:3]), cai(a[2:], readonly=True)))(np.zeros(5))), ValueError),
        ("_cuda_emulator.run", "family past the table", _erun([(len(SPECS),) + d()[1:]]), ValueError),
        ("_cuda_emulator.run", "unknown flag bit", _erun([d()[:1] + (1 << 20,) + d()[2:]]), ValueError),
        ("_cuda_emulator.validate", "works a tuple", lambda: _emu.validate((d(),)), TypeError),
        ("_cuda_emulator.validate", "typestr garbage",
         lambda: _emu.validate(_dev_work(cai(z(), typestr="<f"))), TypeError),
        ("_cuda_emulator.check_params", "negative shape",
         lambda: _emu.check_params([cai(z(), shape=(-3,))]), ValueError),
        ("_cuda_emulator.check_params", "the same array twice",
         lambda: (lambda a: _emu.check_params([a, a]))(cai(z())), ValueError),
        ("_cuda_emulator.check_params", "names too short",
         lambda: _emu.check_params([cai(z()), cai(z())], ["a"]), ValueError),
        ("_cuda_emulator.check_params", "a bogus address",
         lambda: _emu.check_params([CAI({"shape": (3,), "typestr": "<f8", "data": (8, False)})]),
         ValueError),
        ("_cuda_emulator.Plan", "param at a bogus address",
         lambda: _emu.Plan(_dev_work(CAI({"shape": (3,), "typestr": "<f8", "data": (8, False)}))),
         ValueError),
        ("_cuda_emulator.Plan.__init__", "self an int", lambda: _emu.Plan.__init__(3, []), TypeError),
        ("_cuda_emulator.Plan.run", "a grad at a bogus address",
         lambda: (lambda p, g, s: p.run([g[0], CAI({"shape": (3,), "typestr": "<f8",
                                                    "data": (8, True)})], s))(*dev_plan()),
         _emu.StalePlan if _emu else None),
        ("_cuda_emulator.Plan.run", "a grad moved to a bogus address after the first run",
         lambda: _moved_grad_plan_run(), ValueError),
        ("_cuda_emulator.Plan.run", "stream -1",
         lambda: (lambda p, g, s: p.run(g, s, -1))(*dev_plan()), TypeError),
        ("_cuda_emulator.Plan.run", "3 scalars for 4",
         lambda: (lambda p, g, s: p.run(g, [(0.1, 0.0, 0.0)]))(*dev_plan()),
         _emu.StalePlan if _emu else None),
        ("_cuda_emulator.Plan.run", "uninitialized Plan",
         lambda: uninitialized(_emu.Plan).run([], [], 0), TypeError),
        ("_cuda_emulator.Plan.__len__", "uninitialized Plan",
         lambda: len(uninitialized(_emu.Plan)), TypeError),
        ("_cuda_emulator.Plan._pybind11_conduit_v1_", "garbage",
         lambda: _emu.Plan._pybind11_conduit_v1_(3, b"x", b"y"), TypeError),
        ("_cuda_emulator.StalePlan", "keywords", lambda: _emu.StalePlan(x=1), TypeError),
        ("_cuda_emulator.reduce", "out at a bogus address",
         _reduce_dev(lambda n: CAI({"shape": (n,), "typestr": "<f8", "data": (8, False)})), ValueError),
        ("_cuda_emulator.reduce", "out in read-only (code) memory",
         _reduce_dev(lambda n: CAI({"shape": (n,), "typestr": "<f8", "data": (CODE_PAGE, False)})),
         ValueError),
        ("_cuda_emulator.reduce", "out too short", _reduce_dev(lambda n: cai(np.zeros(n)[:0])),
         ValueError),
        ("_cuda_emulator.reduce", "out float32", _reduce_dev(lambda n: cai(np.zeros(n, np.float32))),
         TypeError),
        ("_cuda_emulator.reduce", "out read-only", _reduce_dev(lambda n: cai(np.zeros(n), True)),
         ValueError),
        ("_cuda_emulator.reduce", "out a host array", _reduce_dev(lambda n: np.zeros(n)), TypeError),
        ("_cuda_emulator.reduce", "out None", _reduce_dev(lambda n: None), TypeError),
        ("_cuda_emulator.reduce", "out is the input",
         (lambda a: _reduce_dev(lambda n: cai(a), arrays=[cai(a)]))(np.ones(5)), ValueError),
        ("_cuda_emulator.reduce", "make_out not callable",
         lambda: _emu.reduce(0, [cai(np.ones(3))], 1.0, None, None, 5, 0), TypeError),
        ("_cuda_emulator.reduce", "make_out raising",
         _reduce_dev(lambda n: (_ for _ in ()).throw(KeyError("no"))), KeyError),
        ("_cuda_emulator.reduce", "kind 99", _reduce_dev(kind=99), ValueError),
        ("_cuda_emulator.reduce", "kind -1", _reduce_dev(kind=-1), ValueError),
        ("_cuda_emulator.reduce", "an input at a bogus address",
         _reduce_dev(arrays=[CAI({"shape": (3,), "typestr": "<f8", "data": (8, True)})]), ValueError),
        ("_cuda_emulator.reduce", "dot, others one short", _reduce_dev(kind=4, others=[]), ValueError),
        ("_cuda_emulator.blockwise8_check", "a host param among device arrays",
         lambda: _emu.blockwise8_check("lion", [np.ones(3, np.float32)],
                                       [cai(np.ones(3, np.float32))],
                                       [cai(np.zeros(3, np.float32))], None, [None], None, None,
                                       None), TypeError),
        ("_cuda_emulator.blockwise8_check", "codes at a bogus address",
         lambda: _emu.blockwise8_check("momentum", [cai(np.ones(300, np.float32))],
                                       [cai(np.ones(300, np.float32))],
                                       [CAI({"shape": (300,), "typestr": "|u1",
                                             "data": (8, False)})], None,
                                       [cai(np.zeros(2, np.float32))], None,
                                       cai(np.linspace(-1, 1, 256, dtype=np.float32)), None),
         ValueError),
        ("_cuda_emulator.blockwise8_step", "absmax one block short",
         lambda: _emu.blockwise8_step("momentum", [cai(np.ones(300, np.float32))],
                                      [cai(np.ones(300, np.float32))],
                                      [cai(np.zeros(300, np.uint8))], None,
                                      [cai(np.zeros(1, np.float32))], None,
                                      cai(np.linspace(-1, 1, 256, dtype=np.float32)), None,
                                      lr=0.1, momentum=0.9), ValueError),
        ("_cuda_emulator.blockwise8_step", "a map at a bogus address",
         lambda: _emu.blockwise8_step("lion", [cai(np.ones(300, np.float32))],
                                      [cai(np.ones(300, np.float32))],
                                      [cai(np.zeros(300, np.uint8))], None,
                                      [cai(np.zeros(2, np.float32))], None,
                                      CAI({"shape": (256,), "typestr": "<f4",
                                           "data": (8, True)}), None, lr=0.1), ValueError),
        ("_cuda_emulator.blockwise8_step", "stream -1",
         lambda: _emu.blockwise8_step("lion", [cai(np.ones(3, np.float32))],
                                      [cai(np.ones(3, np.float32))],
                                      [cai(np.zeros(3, np.float32))], None, [None], None, None,
                                      None, lr=0.1, stream=-1), TypeError),
        ("_cuda_emulator.pack_layout", "elem_size 0", lambda: _emu.pack_layout([5], 0, 1), ValueError),
        ("_cuda_emulator.pack_layout", "elem_size 3", lambda: _emu.pack_layout([5], 3, 1), ValueError),
        ("_cuda_emulator.pack_layout", "elem_size -1", lambda: _emu.pack_layout([5], -1, 1), TypeError),
        ("_cuda_emulator.pack_layout", "a numel of 2**62",
         lambda: _emu.pack_layout([2**62], 4, 1), ValueError),
        ("_cuda_emulator.pack_layout", "a numel of 2**64 - 1",
         lambda: _emu.pack_layout([2**64 - 1], 4, 1), ValueError),
        ("_cuda_emulator.pack_layout", "a negative numel", lambda: _emu.pack_layout([-1], 4, 1),
         TypeError),
        ("_cuda_emulator.pack_layout", "n_operands 0", lambda: _emu.pack_layout([5], 4, 0), ValueError),
        ("_cuda_emulator.pack_layout", "n_operands 6", lambda: _emu.pack_layout([5], 4, 6), ValueError),
        ("_cuda_emulator.pack_layout", "numels None", lambda: _emu.pack_layout(None, 4, 1), TypeError),
        ("_cuda_emulator.device_info", "an argument", lambda: _emu.device_info(1), TypeError),
    ]


def _moved_grad_plan_run():
    """The emulator re-checks, on every run, the memory of a gradient it has seen
    before: the object is the same, but its interface now points elsewhere."""
    plan, grads, scalars = dev_plan()
    plan.run(grads, scalars)
    grads[1].iface = {"shape": (3,), "typestr": "<f8", "data": (8, True)}
    try:
        plan.run(grads, scalars)
    except _emu.StalePlan:
        raise ValueError("stale") from None


KNOWN_BAD = _known_bad()


def known_bad_entries() -> set[str]:
    return {case[0] for case in KNOWN_BAD}
