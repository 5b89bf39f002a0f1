"""The hypothesis fuzzers of tests/test_native_fuzz.py, one per entry point of the
compiled modules: each draws a valid call and gives it one definite defect (a wrong
type, dtype, shape, stride, range or list length), which must raise, or draws
arguments of any type, which must merely not crash."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from native_fuzz_common import (APPLY_FAMILIES, BOGUS_POINTERS, CAI, CODE_PAGE, MAX_THREADS,
                                MODULES, R, SHAPES, SPECS, SUM_FAMILIES, _core, _emu, cai,
                                readonly, resolve, strided, unaligned, uninitialized)

# Each fuzzer takes hypothesis' `data` and returns (callable, args, must_raise):
# must_raise when the call has at least one defect that makes it invalid; else the
# call must merely not crash (a valid call may succeed).

GARBAGE = [None, 0, 1, -1, 2**31, 2**63, 2**64, 2**70, -2**70, 0.5, float("nan"), float("inf"),
           True, "", "sgd", b"x", (), [], {}, object(), 1j]


def _garbage(data, depth=0):
    """A random wrong value: scalars of any type, arrays of any dtype and layout, device
    arrays with bogus interfaces, containers of those, uninitialized instances."""
    kind = data.draw(st.integers(0, 9 if depth < 2 else 5))
    if kind <= 2:
        return data.draw(st.sampled_from(GARBAGE))
    if kind == 3:
        return _bad_host_array(data, (3,), np.dtype(np.float64), written=True)[1]
    if kind == 4:
        return _bad_device_array(data, (3,), np.dtype(np.float64), written=True)[1]
    if kind == 5:
        return data.draw(st.sampled_from([R.DOT, R(99), uninitialized(R), _core.StalePlan()]))
    if kind == 6:
        cls = data.draw(st.sampled_from([c for c in (_core.Plan, _emu and _emu.Plan) if c]))
        return uninitialized(cls)
    n = data.draw(st.integers(0, 3))
    items = [_garbage(data, depth + 1) for _ in range(n)]
    return items if kind in (7, 9) else tuple(items)


def _valid_host(shape, dtype, written):
    return np.zeros(shape, dtype) if written else np.ones(shape, dtype)


def _bad_host_array(data, shape, dtype, written, others=()):
    """(label, array) of one definite defect for a host operand of this shape and dtype
    (others: arrays of the same call it could alias)."""
    other_dtype = np.float32 if dtype == np.float64 else np.float64
    choices = {
        "list": lambda: np.ones(shape).tolist(),
        "None": lambda: None,
        "float": lambda: 1.5,
        "device array": lambda: cai(np.zeros(shape, dtype)),
        "int64": lambda: np.zeros(shape, np.int64),
        "int32": lambda: np.zeros(shape, np.int32),
        "uint16": lambda: np.zeros(shape, np.uint16),  # float16 is a valid state dtype
        "complex": lambda: np.zeros(shape, np.complex128),
        "bool": lambda: np.zeros(shape, bool),
        "object": lambda: np.full(shape, 1.0, object),
        "big-endian": lambda: np.zeros(shape, dtype.newbyteorder(">")),
        "strided": lambda: strided(shape, dtype),
        "reversed": lambda: np.zeros(shape, dtype)[::-1] if len(shape) == 1 else strided(shape, dtype),
        "broadcast": lambda: np.broadcast_to(np.zeros(shape[-1:], dtype), shape) if len(shape) > 1
        else np.broadcast_to(np.zeros(1, dtype), shape),
        "unaligned": lambda: unaligned(shape, dtype),
    }
    if written:
        choices["read-only"] = lambda: readonly(np.zeros(shape, dtype))
        if others:
            choices["alias"] = lambda: data.draw(st.sampled_from(list(others)))
    choices["other dtype"] = lambda: np.zeros(shape, other_dtype)  # only where a param fixes it
    choices["other shape"] = lambda: np.zeros(shape + (1,), dtype)
    choices["0-d"] = lambda: np.zeros((), dtype)
    label = data.draw(st.sampled_from(sorted(choices)))
    return label, choices[label]()


def _bad_device_array(data, shape, dtype, written, others=()):
    """(label, device array) of one definite defect for a device operand."""
    host = np.zeros(shape, dtype)
    choices = {
        "host array": lambda: host,
        "None": lambda: None,
        "bogus address": lambda: cai(host, data=(data.draw(st.sampled_from(BOGUS_POINTERS)), not written)),
        "null address": lambda: cai(host, data=(0, not written)),
        "negative shape": lambda: cai(host, shape=(-1,) + shape[1:]),
        "huge shape": lambda: cai(host, shape=(2**62,)),
        "overflowing shape": lambda: cai(host, shape=(2**40, 2**40, 2**40)),
        "shape a list": lambda: cai(host, shape=list(shape)),
        "typestr garbage": lambda: cai(host, typestr=data.draw(st.sampled_from(
            ["", "<", "<f", "<fz", "f8", "<f-8", "<f99999999999999999999", "<i8", "<c16", ">f8",
             "<f2", 8]))),
        "strides wrong length": lambda: cai(host, strides=(8,) * (len(shape) + 1)),
        "strides non-contiguous": lambda: cai(np.zeros(shape[:-1] + (2 * shape[-1],), dtype),
                                              shape=shape,
                                              strides=tuple(np.zeros(shape, dtype).strides[:-1])
                                              + (2 * dtype.itemsize,)),
        "data garbage": lambda: cai(host, data=data.draw(st.sampled_from(
            [None, (), (8,), ("x", False), (-8, False), (2**64, False), 8]))),
        "masked": lambda: cai(host, mask=cai(np.ones(shape, bool))),
        "not a dict": lambda: CAI(data.draw(st.sampled_from([None, [], 5, "x"]))),
        "raising": lambda: CAI(RuntimeError("interface")),
        "missing keys": lambda: CAI({"typestr": dtype.str}),
        "int64": lambda: cai(np.zeros(shape, np.int64)),
        "unaligned": lambda: cai(unaligned(shape, dtype)),
    }
    if written:
        choices["read-only"] = lambda: cai(host, readonly=True)
        choices["code memory"] = lambda: cai(host, data=(CODE_PAGE, False))
        if others:
            choices["alias"] = lambda: data.draw(st.sampled_from(list(others)))
    label = data.draw(st.sampled_from(sorted(choices)))
    return label, choices[label]()


# Defects that are not defects everywhere: another dtype or shape is fine where the
# array fixes them itself (a param of a one-operand family, or an array of a reduction).
_RELATIVE = {"other dtype", "other shape", "0-d"}


def _draw_work(data, device, family=None):
    """A valid work (as a list, to mutate) over fresh arrays."""
    name = family or data.draw(st.sampled_from(APPLY_FAMILIES))
    spec = SPECS[name]
    flags = 0
    for bit in spec["flags"].values():
        if data.draw(st.booleans()):
            flags |= bit
    scalars = tuple(data.draw(st.floats(0.0, 0.5)) for _ in spec["scalars"])
    n = data.draw(st.integers(1, 3))
    layout = [(data.draw(st.sampled_from(SHAPES)), np.dtype(data.draw(st.sampled_from(
        [np.float32, np.float64])))) for _ in range(n)]
    operands = []
    for _, written, needs in spec["operands"]:
        if needs and not flags & needs:
            operands.append(None)
            continue
        arrays = [_valid_host(s, d, written) for s, d in layout]
        operands.append([cai(a, readonly=not written) for a in arrays] if device else arrays)
    names = data.draw(st.sampled_from([None, [f"t{i}" for i in range(n)],
                                       tuple(f"t{i}" for i in range(n))]))
    return [spec["id"], flags, scalars, operands, names], layout


def _used(spec, flags):
    return [k for k, (_, _, needs) in enumerate(spec["operands"]) if not needs or flags & needs]


def _mutate_works(data, works, layouts, device):
    """Applies one definite defect to a list of valid works (lists); returns its label
    and the works as the native layer takes them."""
    w = data.draw(st.integers(0, len(works) - 1))
    work, layout = works[w], layouts[w]
    spec = next(s for s in SPECS.values() if s["id"] == work[0])
    kinds = ["family", "flags", "scalars", "operands", "list", "names", "array", "work", "works"]
    kind = data.draw(st.sampled_from(kinds))
    label = kind
    if kind == "family":
        work[0] = data.draw(st.sampled_from([-1, len(SPECS), len(SPECS) + 7, 2**31, 2**63, 2**70,
                                             1.0, "sgd", None]))
    elif kind == "flags":
        unknown = [1 << b for b in range(len(spec["flags"]), 32)]
        work[1] = data.draw(st.sampled_from([-1, 2**32, 2**70, 0.0, None, "1"] + unknown))
    elif kind == "scalars":
        n = len(spec["scalars"])
        choices = [None, 1.0, "abc", tuple(["x"] * n) if n else None, (0.1,) * (n + 1)]
        if n:
            choices += [(0.1,) * (n - 1), (None,) * n]
        work[2] = data.draw(st.sampled_from(choices))
    elif kind == "operands":
        ops = work[3]
        work[3] = data.draw(st.sampled_from([None, 5, {"params": ops[0]}, ops[:-1],
                                             ops + [None]]))
    elif kind == "list":
        k = data.draw(st.sampled_from(_used(spec, work[1])))
        lst = work[3][k]
        choice = data.draw(st.sampled_from(["None", "array", "int", "dict", "str", "short", "long"]))
        label += ":" + choice
        work[3][k] = {"None": None, "array": lst[0] if lst else np.zeros(3), "int": 5,
                      "dict": {0: lst[0]}, "str": "abc", "short": lst[:-1],
                      "long": lst + [lst[0]]}[choice]
    elif kind == "names":
        n = len(work[3][0])
        work[4] = data.draw(st.sampled_from([5, [f"t{i}" for i in range(n + 1)],
                                             [f"t{i}" for i in range(n - 1)], 1.5]))
    elif kind == "array":
        used = _used(spec, work[1])
        k = data.draw(st.sampled_from(used))
        i = data.draw(st.integers(0, len(layout) - 1))
        shape, dtype = layout[i]
        written = spec["operands"][k][1]
        others = [work[3][j][i] for j in used if j != k]
        make = _bad_device_array if device else _bad_host_array
        label, bad = make(data, shape, dtype, written, others)
        if label in _RELATIVE and (k == 0 or len(used) == 1):
            label, bad = "None", None  # k = 0 fixes dtype and shape: use a plain defect
        work[3][k][i] = bad
        label = f"array {spec['operands'][k][0]}[{i}]: {label}"
    elif kind == "work":
        choice = data.draw(st.sampled_from(["list", "short", "long", "None"]))
        label += ":" + choice
        works[w] = {"list": work, "short": tuple(work[:4]), "long": tuple(work) + (None,),
                    "None": None}[choice]
    if kind != "work":
        works[w] = tuple(work[:3]) + (tuple(work[3]) if isinstance(work[3], list) else work[3],
                                      work[4])
    others = [tuple(x[:3]) + (tuple(x[3]), x[4]) if isinstance(x, list) else x
              for j, x in enumerate(works) if j != w]
    out = others[:w] + [works[w]] + others[w:]
    if kind == "works":
        label += ":" + data.draw(st.sampled_from(["tuple", "None", "work"]))
        out = {"works:tuple": tuple(out), "works:None": None, "works:work": out[0]}[label]
    return label, out


def _valid_works(data, device):
    works, layouts = [], []
    for _ in range(data.draw(st.integers(1, 2))):
        work, layout = _draw_work(data, device)
        works.append(work)
        layouts.append(layout)
    return works, layouts


def _as_tuples(works):
    return [tuple(w[:3]) + (tuple(w[3]), w[4]) for w in works]


def _fuzz_works(fn, device):
    def fuzz(data):
        works, layouts = _valid_works(data, device)
        if data.draw(st.integers(0, 5)) == 0:
            return fn, (_as_tuples(works),), False
        label, bad = _mutate_works(data, works, layouts, device)
        return fn, (bad,), True
    return fuzz


def fuzz_run(data):
    return _fuzz_works(_core.run, False)(data)


def fuzz_validate(data):
    return _fuzz_works(_core.validate, False)(data)


def fuzz_plan(data):
    return _fuzz_works(_core.Plan, False)(data)


def _fuzz_apply_sums(fn, device):
    """Valid works of the summing families, or one definite defect (a family that does
    not sum among them: a family mutation usually picks one)."""
    def fuzz(data):
        works, layouts = [], []
        for _ in range(data.draw(st.integers(1, 2))):
            work, layout = _draw_work(data, device, data.draw(st.sampled_from(SUM_FAMILIES)))
            works.append(work)
            layouts.append(layout)
        if data.draw(st.integers(0, 3)) == 0:
            return fn, (_as_tuples(works),), False
        label, bad = _mutate_works(data, works, layouts, device)
        return fn, (bad,), True
    return fuzz


def fuzz_apply_sums(data):
    return _fuzz_apply_sums(_core.apply_sums, False)(data)


# The families whose operand 1 is the gradient a Plan takes anew on each run.
PLAN_FAMILIES = [n for n in APPLY_FAMILIES if len(SPECS[n]["operands"]) > 1]


def _fuzz_plan_run(module, device):
    def fuzz(data):
        works, layouts = [], []
        for _ in range(data.draw(st.integers(1, 2))):
            work, layout = _draw_work(data, device, data.draw(st.sampled_from(PLAN_FAMILIES)))
            works.append(work)
            layouts.append(layout)
        plan = module.Plan(_as_tuples(works))
        grads = [g for w in works for g in w[3][1]]
        scalars = [tuple(w[2]) for w in works]
        extra = (0,) if device else ()
        kind = data.draw(st.sampled_from(["none", "grads", "grad", "scalars", "stream"]))
        if kind == "none" or (kind == "stream" and not device):
            return plan.run, (grads, scalars) + extra, False
        if kind == "grads":
            bad = data.draw(st.sampled_from(["tuple", "short", "long", "None"]))
            grads = {"tuple": tuple(grads), "short": grads[:-1], "long": grads + grads[:1],
                     "None": None}[bad]
        elif kind == "grad":
            t = data.draw(st.integers(0, len(grads) - 1))
            shape, dtype = [x for lay in layouts for x in lay][t]
            params = [p for w in works for p in w[3][0]]
            make = _bad_device_array if device else _bad_host_array
            label, bad = make(data, shape, dtype, False)
            if label in ("alias",):
                bad = None
            if data.draw(st.booleans()):
                bad = params[t]  # a grad that is its own param (or another param)
            grads = list(grads)
            grads[t] = bad
        elif kind == "scalars":
            w = data.draw(st.integers(0, len(scalars) - 1))
            n = len(scalars[w])
            bad = data.draw(st.sampled_from(["short", "long", "eleven", "list", "str", "None",
                                             "outer tuple", "outer short"]))
            s = list(scalars)
            if bad == "outer tuple":
                scalars = tuple(s)
            elif bad == "outer short":
                scalars = s[:-1]
            else:
                s[w] = {"short": (0.1,) * (n - 1) if n else (0.1,), "long": (0.1,) * (n + 1),
                        "eleven": (0.1,) * 11, "list": list(s[w]) + [0.1],
                        "str": ("x",) * max(n, 1), "None": None}[bad]
                scalars = s
        else:
            extra = (data.draw(st.sampled_from([-1, 2**64, "x", None, 0.5])),)
        return plan.run, (grads, scalars) + extra, True
    return fuzz


def fuzz_plan_run(data):
    return _fuzz_plan_run(_core, False)(data)


def _fuzz_reduce(device):
    def fuzz(data):
        kind = data.draw(st.sampled_from(list(R.__members__.values())))
        n = data.draw(st.integers(1, 3))
        layout = [(data.draw(st.sampled_from(SHAPES)), np.dtype(data.draw(st.sampled_from(
            [np.float32, np.float64])))) for _ in range(n)]
        mk = (lambda a: cai(a, readonly=True)) if device else (lambda a: a)
        arrays = [mk(np.ones(s, d)) for s, d in layout]
        others = [mk(np.ones(s, d)) for s, d in layout] if kind == R.DOT else None
        names = None
        scalar = 2.0
        make_out = lambda m: cai(np.zeros(m))  # noqa: E731
        defect = data.draw(st.sampled_from(["none", "kind", "arrays", "array", "scalar", "names",
                                            "others", "out", "stream"]))
        if defect == "kind":
            kind = data.draw(st.sampled_from([R(99), R(-1), R(len(R.__members__)), None, "DOT"]
                                             + ([0.5, 2**70, -1] if device else [0])))
        elif defect == "arrays":
            arrays = data.draw(st.sampled_from([None, 5, tuple(arrays), "abc"]))
        elif defect == "array":
            i = data.draw(st.integers(0, n - 1))
            make = _bad_device_array if device else _bad_host_array
            label, bad = make(data, layout[i][0], layout[i][1], False)
            if label in _RELATIVE or label == "alias":
                bad = None
            arrays[i] = bad
        elif defect == "scalar":
            scalar = data.draw(st.sampled_from([None, "x", [], 1j]))
        elif defect == "names":
            names = data.draw(st.sampled_from([5, ["a"] * (n + 1), ["a"] * (n - 1), 1.5]))
        elif defect == "others":
            if kind != R.DOT:
                kind = R.DOT
            others = data.draw(st.sampled_from([None, 5, [], [mk(np.ones(4))] * n,
                                                [mk(np.ones((n + 1, 2)))] * n]))
        elif defect == "out" and device:
            make_out = data.draw(st.sampled_from([
                5, None, lambda m: None, lambda m: np.zeros(m), lambda m: cai(np.zeros(m, np.float32)),
                lambda m: cai(np.zeros(m), readonly=True), lambda m: cai(np.zeros(max(m - 1, 0))),
                lambda m: CAI({"shape": (m,), "typestr": "<f8", "data": (8, False)}),
                lambda m: CAI({"shape": (m,), "typestr": "<f8", "data": (CODE_PAGE, False)}),
                lambda m: arrays[0]]))
        elif defect == "stream" and device:
            return (_emu.reduce, (kind, arrays, scalar, names, others, make_out,
                                  data.draw(st.sampled_from([-1, 2**64, None]))), True)
        else:
            defect = "none"
        if device:
            return _emu.reduce, (kind, arrays, scalar, names, others, make_out, 0), defect != "none"
        return _core.reduce, (kind, arrays, scalar, names, others), defect != "none"
    return fuzz


def fuzz_reduce(data):
    return _fuzz_reduce(False)(data)


def _fuzz_check_params(module, device):
    def fuzz(data):
        n = data.draw(st.integers(1, 4))
        layout = [(data.draw(st.sampled_from(SHAPES)), np.dtype(data.draw(st.sampled_from(
            [np.float32, np.float64])))) for _ in range(n)]
        arrays = [np.zeros(s, d) for s, d in layout]
        if device:
            arrays = [cai(a) for a in arrays]
        names = data.draw(st.sampled_from([None, [str(i) for i in range(n)]]))
        defect = data.draw(st.sampled_from(["none", "arrays", "array", "names", "overlap"]))
        if defect == "arrays":
            arrays = data.draw(st.sampled_from([None, 5, 1.5]))
        elif defect == "array":
            i = data.draw(st.integers(0, n - 1))
            make = _bad_device_array if device else _bad_host_array
            label, bad = make(data, layout[i][0], layout[i][1], True, arrays[:i] + arrays[i + 1:])
            if label in _RELATIVE:
                bad = None
            arrays[i] = bad
        elif defect == "names":
            names = data.draw(st.sampled_from([5, [str(i) for i in range(n + 1)],
                                               [str(i) for i in range(n - 1)]]))
        elif defect == "overlap":
            buf = np.zeros(10)
            pair = [buf[:6], buf[4:]]
            arrays = arrays + ([cai(a) for a in pair] if device else pair)
            if names is not None:
                names = names + ["x", "y"]
        return module.check_params, (arrays, names), defect != "none"
    return fuzz


def fuzz_check_params(data):
    return _fuzz_check_params(_core, False)(data)


def fuzz_softmax_xent(data):
    n, c = data.draw(st.integers(2, 5)), data.draw(st.integers(2, 6))
    dtype = np.dtype(data.draw(st.sampled_from([np.float32, np.float64])))
    logits = np.asarray(np.random.default_rng(n * c).standard_normal((n, c)), dtype)
    labels = data.draw(st.booleans())
    targets = (np.array([data.draw(st.integers(0, c - 1)) for _ in range(n)], np.int64) if labels
               else np.full((n, c), 1.0 / c, dtype))
    scale = 1.0
    defect = data.draw(st.sampled_from(["none", "logits", "targets", "label", "scale"]))
    if defect == "logits":
        label, bad = _bad_host_array(data, (n, c), dtype, False)
        if label == "other dtype":
            bad = logits.astype(np.int16)
        if label == "other shape" and labels:
            bad = np.zeros((n, c, 1), dtype)
        logits = bad
    elif defect == "targets":
        shape = (n,) if labels else (n, c)
        tdtype = np.dtype(np.int64) if labels else dtype
        label, bad = _bad_host_array(data, shape, tdtype, False)
        if label in ("other dtype",) and labels:
            bad = np.zeros(shape, np.float64)
        if label == "int64" and labels:
            bad = np.zeros(shape, np.uint64)
        if label == "0-d" and labels:
            bad = np.zeros((), np.int64)
        targets = bad
    elif defect == "label":
        if not labels:
            targets = np.zeros(n, np.int64)
        i = data.draw(st.integers(0, n - 1))
        targets[i] = data.draw(st.sampled_from([c, c + 1, -1, -c, 10**9, 2**62, -2**63, 2**63 - 1]))
    elif defect == "scale":
        scale = data.draw(st.sampled_from([None, "x", [], 1j]))
    return _core.softmax_xent, (logits, targets, scale), defect != "none"


def _still_valid(label, shape, dtype, written):
    """Whether a drawn "defect" leaves this array valid after all: one-byte items (8-bit
    codes) are aligned anywhere and have no byte order; a last axis of length 1 takes any
    stride; a broadcast of one value is contiguous (and only read)."""
    if np.dtype(dtype).itemsize == 1 and label in ("unaligned", "big-endian"):
        return True
    if shape[-1] == 1 and label in ("strided", "reversed", "strides non-contiguous"):
        return True
    return label == "broadcast" and not written and int(np.prod(shape)) == 1


def _fuzz_blockwise8(device):
    """blockwise8_step (or _check) of _core over host arrays, or of the emulator over device
    arrays: 1-3 float32 params, each with 8-bit state (uint8 codes, absmax per 256 values)
    or float32 state, with at most one defect."""
    mod = _emu if device else _core
    wrap = cai if device else (lambda a: a)
    bad_array = _bad_device_array if device else _bad_host_array

    def fuzz(data):
        kind = data.draw(st.sampled_from(["adam", "momentum", "lion"]))
        two = kind == "adam"
        rng = np.random.default_rng(data.draw(st.integers(0, 99)))
        params, grads, s1, s2, a1, a2 = [], [], [], [], [], []
        for _ in range(data.draw(st.integers(1, 3))):
            shape = data.draw(st.sampled_from([(2,), (255,), (256,), (300,), (3, 200), (600,)]))
            eight = data.draw(st.booleans())
            n = int(np.prod(shape))
            params.append(rng.standard_normal(shape).astype(np.float32))
            grads.append(rng.standard_normal(shape).astype(np.float32))
            state = (lambda: rng.integers(0, 256, shape).astype(np.uint8)) if eight else \
                (lambda: rng.random(shape).astype(np.float32))
            absmax = (lambda: rng.random(-(-n // 256)).astype(np.float32)) if eight else \
                (lambda: None)
            s1.append(state())
            a1.append(absmax())
            s2.append(state() if two else None)
            a2.append(absmax() if two else None)
        q1 = np.sort(rng.uniform(-1, 1, 256)).astype(np.float32)
        q2 = np.sort(rng.uniform(0, 1, 256)).astype(np.float32) if two else None
        kw = dict(lr=1e-3, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.01, momentum=0.9,
                  step=3)
        host = dict(params=params, grads=grads, state1s=s1, state2s=s2, absmax1s=a1,
                    absmax2s=a2)
        lists = {k: [None if a is None else wrap(a) for a in v] for k, v in host.items()}
        maps = [wrap(q1), None if q2 is None else wrap(q2)]
        written = [a for name in ("params", "state1s", "state2s", "absmax1s", "absmax2s")
                   for a in lists[name] if a is not None]
        defect = data.draw(st.sampled_from(["none", "array", "kind", "step", "lr", "qmap"]))
        if defect == "array":
            name = data.draw(st.sampled_from([k for k, v in host.items()
                                              if any(a is not None for a in v)]))
            i = data.draw(st.sampled_from([j for j, a in enumerate(host[name]) if a is not None]))
            old, kept = host[name][i], lists[name][i]
            label, lists[name][i] = bad_array(data, old.shape, old.dtype, name != "grads",
                                              [a for a in written if a is not kept])
            if _still_valid(label, old.shape, old.dtype, name != "grads"):
                defect = "none"
        elif defect == "kind":
            kind = data.draw(st.sampled_from(["Adam", "", None, 3]))
        elif defect == "step":
            kw["step"] = data.draw(st.sampled_from([0, -1, 2**64, 1.5, None]))
        elif defect == "lr":
            kw["lr"] = data.draw(st.sampled_from(["x", None, [1e-3]]))
        elif defect == "qmap":
            if not any(a is not None for a in a1):
                defect = "none"  # no 8-bit param: the maps are not read
            else:
                # (map, whether it is wrong): the device never reads a map's values on the
                # host, so an unsorted or NaN map is no error there (but must not crash)
                q, bad = data.draw(st.sampled_from([
                    (None, True), (q1[:255], True), (q1.astype(np.float64), True),
                    (q1[::-1].copy(), not device), (np.full(256, np.nan, np.float32), not device)]))
                maps[0] = None if q is None else wrap(q)
                defect = "qmap" if bad else "none"
        args = (kind, lists["params"], lists["grads"], lists["state1s"], lists["state2s"],
                lists["absmax1s"], lists["absmax2s"], maps[0], maps[1])
        if data.draw(st.booleans()):  # the checks alone: no step, no hyperparameters
            return mod.blockwise8_check, args, defect not in ("none", "step", "lr")
        return (lambda *a: mod.blockwise8_step(*a, **kw)), args, defect != "none"
    return fuzz


def _fuzz_copy(unpack):
    """pack(arrays, out, offset, names) or unpack(flat, arrays, offset, scale, names): a valid
    call over arrays of SHAPES and one dtype, with at most one defect."""
    def fuzz(data):
        dtype = np.dtype(data.draw(st.sampled_from([np.float32, np.float64])))
        shapes = [data.draw(st.sampled_from(SHAPES)) for _ in range(data.draw(st.integers(1, 4)))]
        arrays = [np.zeros(s, dtype) for s in shapes]
        total = sum(a.size for a in arrays)
        offset = data.draw(st.integers(0, 3))
        buf = np.ones(offset + total + data.draw(st.integers(0, 3)), dtype)
        names, scale = None, data.draw(st.sampled_from([1.0, 0.5, -3.0]))
        defect = data.draw(st.sampled_from(["none", "arrays", "array", "buf", "offset", "names",
                                            "overlap"] + (["scale"] if unpack else [])))
        if defect == "arrays":
            arrays = data.draw(st.sampled_from([None, 5, "abc", np.zeros((2, 3), dtype)]))
        elif defect == "array":
            i = data.draw(st.integers(0, len(arrays) - 1))
            label, bad = _bad_host_array(data, shapes[i], dtype, unpack, arrays[:i] + arrays[i + 1:])
            arrays[i] = None if label in ("other shape", "0-d") else bad  # any shape is valid
        elif defect == "buf":
            # flat is only read: a read-only one is valid, so not drawn for unpack
            buf = _bad_host_array(data, buf.shape, dtype, not unpack)[1]
        elif defect == "offset":
            offset = data.draw(st.sampled_from([-1, buf.size - total + 1, 2**62, 2**63, 2**64, 2**70,
                                                0.5, None, "1"]))
        elif defect == "names":
            names = data.draw(st.sampled_from([5, "ab", ["a"] * (len(arrays) + 1),
                                               ["a"] * (len(arrays) - 1)]))
        elif defect == "overlap":
            i = data.draw(st.integers(0, len(arrays) - 1))
            start = offset + data.draw(st.integers(0, total - 1))  # inside the range copied
            view = buf[start:start + arrays[i].size]
            arrays[i] = view if view.size == arrays[i].size else buf[offset:offset + arrays[i].size]
        elif defect == "scale":
            scale = data.draw(st.sampled_from([float("nan"), float("inf"), -float("inf"), None, "x",
                                               1j] + ([1e39] if dtype == np.float32 else [])))
        if unpack:
            return _core.unpack, (buf, arrays, offset, scale, names), defect != "none"
        return _core.pack, (arrays, buf, offset, names), defect != "none"
    return fuzz


def fuzz_set_num_threads(data):
    bad = data.draw(st.booleans())
    if not bad:
        return _core.set_num_threads, (data.draw(st.integers(1, 4)),), False
    return _core.set_num_threads, (data.draw(st.sampled_from(
        [0, -1, -2**31, MAX_THREADS + 1, 10**6, 2**31 - 1, 2**31, 2**63, 2**70, 1.5, None, "2"])),), True


def fuzz_set_isa(data):
    supported = _core.build_info()["isa_supported"]
    if data.draw(st.booleans()):
        return _core.set_isa, (data.draw(st.sampled_from(supported)),), False
    return _core.set_isa, (data.draw(st.sampled_from(
        ["", "AVX2", "avx1024", "scalar\0", " scalar", "sse", None, 2, 1.5])),), True


def _self_containing_list():
    a = [0.1]
    a.append(a)
    return a


def fuzz_same_key(data):
    """Any pair of keys, nested lists and tuples deeper than any hyperparameter and
    lists that contain themselves included: the answer is a bool, never a crash."""
    def key(depth=0):
        kind = data.draw(st.integers(0, 4 if depth < 40 else 1))
        if kind == 0:
            return _garbage(data, 2)
        if kind == 1:
            return data.draw(st.sampled_from([0.1, 1, True, None, "x", _self_containing_list()]))
        items = [key(depth + 1) for _ in range(data.draw(st.integers(1, 2)))]
        return tuple(items) if kind == 2 else items
    return _core.same_key, (key(), key()), False


def _fuzz_no_args(fn):
    def fuzz(data):
        n = data.draw(st.integers(0, 2))
        args = tuple(_garbage(data) for _ in range(n))
        return fn, args, n > 0
    return fuzz


def fuzz_pack_layout(data):
    numels = data.draw(st.lists(st.integers(0, 3 * 65536), max_size=6))
    elem, k = data.draw(st.sampled_from([4, 8])), data.draw(st.integers(1, 5))
    defect = data.draw(st.sampled_from(["none", "numels", "numel", "elem_size", "n_operands"]))
    if defect == "numels":
        numels = data.draw(st.sampled_from([None, 5, "abc", [1.5], [None]]))
    elif defect == "numel":
        numels = numels + [data.draw(st.sampled_from([-1, 2**62, 2**63, 2**64 - 1, 2**64, 2**70]))]
    elif defect == "elem_size":
        elem = data.draw(st.sampled_from([0, 1, 3, 5, 16, -4, 2**64, None]))
    elif defect == "n_operands":
        k = data.draw(st.sampled_from([0, -1, 6, 2**31, 2**40, None]))
    return _emu.pack_layout, (numels, elem, k), defect != "none"


def _fuzz_garbage(entry):
    """Any entry point with wrong arguments of any type: must not crash."""
    def fuzz(data):
        fn = resolve(entry)
        n = data.draw(st.integers(0, 4))
        return fn, tuple(_garbage(data) for _ in range(n)), False
    return fuzz


def _fuzzers():
    f = {
        "_core.run": fuzz_run,
        "_core.validate": fuzz_validate,
        "_core.Plan": fuzz_plan,
        "_core.Plan.run": fuzz_plan_run,
        "_core.reduce": fuzz_reduce,
        "_core.apply_sums": fuzz_apply_sums,
        "_core.check_params": fuzz_check_params,
        "_core.softmax_xent": fuzz_softmax_xent,
        "_core.set_num_threads": fuzz_set_num_threads,
        "_core.set_isa": fuzz_set_isa,
        "_core.get_isa": _fuzz_no_args(_core.get_isa),
        "_core.get_num_threads": _fuzz_no_args(_core.get_num_threads),
        "_core.build_info": _fuzz_no_args(_core.build_info),
        "_core.kernel_specs": _fuzz_no_args(_core.kernel_specs),
        "_core.same_key": fuzz_same_key,
        "_core.blockwise8_step": _fuzz_blockwise8(False),
        "_core.blockwise8_check": _fuzz_blockwise8(False),
        "_core.pack": _fuzz_copy(False),
        "_core.unpack": _fuzz_copy(True),
    }
    if _emu is not None:
        f.update({
            "_cuda_emulator.run": _fuzz_works(lambda w: _emu.run(w, 0), True),
            "_cuda_emulator.validate": _fuzz_works(_emu.validate, True),
            "_cuda_emulator.Plan": _fuzz_works(_emu.Plan, True),
            "_cuda_emulator.Plan.run": _fuzz_plan_run(_emu, True),
            "_cuda_emulator.reduce": _fuzz_reduce(True),
            "_cuda_emulator.apply_sums": _fuzz_apply_sums(
                lambda w: _emu.apply_sums(w, lambda m: cai(np.zeros(m)), 0), True),
            "_cuda_emulator.check_params": _fuzz_check_params(_emu, True),
            "_cuda_emulator.pack_layout": fuzz_pack_layout,
            "_cuda_emulator.blockwise8_step": _fuzz_blockwise8(True),
            "_cuda_emulator.blockwise8_check": _fuzz_blockwise8(True),
            "_cuda_emulator.device_info": _fuzz_no_args(_emu.device_info),
        })
    # Every entry point, the ones above included, also takes arguments of any type.
    garbage = {f"{e} (any arguments)": _fuzz_garbage(e) for e in GARBAGE_ENTRIES if
               e.split(".")[0] in MODULES and MODULES[e.split(".")[0]] is not None}
    f.update(garbage)
    return f


# The entry points fuzzed with arguments of any type (all of them: listed, not
# derived, so that a new one shows up in test_every_entry_point_is_fuzzed).
GARBAGE_ENTRIES = [
    "_core.Plan", "_core.Plan.__init__", "_core.Plan.__len__", "_core.Plan.run",
    "_core.Plan._pybind11_conduit_v1_",
    "_core.Reduction", "_core.Reduction.__init__", "_core.Reduction.__doc__",
    "_core.Reduction._pybind11_conduit_v1_", "_core.Reduction.__repr__", "_core.Reduction.name",
    "_core.Reduction.__str__", "_core.Reduction.__members__", "_core.Reduction.__getstate__",
    "_core.Reduction.__hash__", "_core.Reduction.value", "_core.Reduction.__eq__",
    "_core.Reduction.__ne__", "_core.Reduction.__int__", "_core.Reduction.__index__",
    "_core.Reduction.__setstate__",
    "_core.StalePlan", "_core.adafactor_check", "_core.adafactor_step", "_core.apply_sums",
    "_core.blockwise8_check", "_core.blockwise8_step",
    "_core.build_info", "_core.check_params", "_core.get_isa",
    "_core.get_num_threads", "_core.kernel_specs", "_core.pack", "_core.reduce", "_core.run",
    "_core.same_key", "_core.set_isa", "_core.unpack", "_core._stochastic_round",
    "_core.set_num_threads", "_core.softmax_xent", "_core.validate",
    "_cuda_emulator.Plan", "_cuda_emulator.Plan.__init__", "_cuda_emulator.Plan.__len__",
    "_cuda_emulator.Plan.run", "_cuda_emulator.Plan._pybind11_conduit_v1_",
    "_cuda_emulator.StalePlan", "_cuda_emulator.apply_sums", "_cuda_emulator.check_params",
    "_cuda_emulator.blockwise8_check", "_cuda_emulator.blockwise8_step",
    "_cuda_emulator.device_info",
    "_cuda_emulator.pack_layout", "_cuda_emulator.reduce", "_cuda_emulator.run",
    "_cuda_emulator.validate",
]

FUZZERS = _fuzzers()


def fuzzed_entries() -> set[str]:
    """The entry points the fuzzers cover (a fuzzer's name, less any suffix)."""
    return {name.split(" ")[0] for name in FUZZERS}
