"""The native 8-bit blockwise optimizers (fusedoptim._core.blockwise8_step): bit for bit
the NumPy reference (reference/_eightbit.py, rounding "bnb") on params, codes, absmax and
float32 moments, for every kind, 8-bit and 32-bit state mixed in one call, on every ISA
path and thread count; non-finite blocks; and every bad argument refused before any
array changes."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fusedoptim
from fusedoptim import _core
from fusedoptim.reference import _eightbit as R

QMAP1 = R.dynamic_map(signed=True)
QMAP2 = R.dynamic_map(signed=False)
KINDS = ("adam", "momentum", "lion")
HYPER = {"adam": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8),
         "momentum": dict(lr=1e-2, momentum=0.9),
         "lion": dict(lr=1e-4, beta1=0.9, beta2=0.99)}
SIZES = [1, 255, 256, 257, 4095, 4096, 10000, 70001]
SHAPES = {10000: (100, 100), 4096: (16, 16, 16)}


class Tensor:
    """A param, its grad source and its state (8-bit: codes + absmax; else float32)."""

    def __init__(self, rng, n, kind, q8):
        self.shape = SHAPES.get(n, (n,))
        self.p = rng.standard_normal(self.shape).astype(np.float32)
        self.scale = np.float32(10.0 ** rng.uniform(-3, 0))
        self.q8 = q8
        two = kind == "adam"
        if q8:
            blocks = -(-n // 256)
            self.s1 = np.zeros(self.shape, np.uint8)
            self.a1 = np.zeros(blocks, np.float32)
            self.s2 = np.zeros(self.shape, np.uint8) if two else None
            self.a2 = np.zeros(blocks, np.float32) if two else None
        else:
            self.s1 = np.zeros(self.shape, np.float32)
            self.s2 = np.zeros(self.shape, np.float32) if two else None
            self.a1 = self.a2 = None

    def arrays(self):
        return [a for a in (self.p, self.s1, self.s2, self.a1, self.a2) if a is not None]

    def copy(self):
        t = object.__new__(Tensor)
        t.__dict__.update({k: (v.copy() if isinstance(v, np.ndarray) else v)
                           for k, v in self.__dict__.items()})
        return t


def native_step(kind, ts, grads, step, weight_decay, qmap1=QMAP1, qmap2=QMAP2):
    adam = kind == "adam"
    _core.blockwise8_step(kind, [t.p for t in ts], grads, [t.s1 for t in ts],
                          [t.s2 for t in ts] if adam else None, [t.a1 for t in ts],
                          [t.a2 for t in ts] if adam else None, qmap1,
                          qmap2 if adam else None, step=step, weight_decay=weight_decay,
                          **HYPER[kind])


def reference_step(kind, t, g, step, weight_decay):
    h = HYPER[kind]
    if kind == "adam":
        kw = dict(step=step, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                  weight_decay=weight_decay)
        if t.q8:
            R.adam8bit_step(t.p, g, t.s1, t.s2, t.a1, t.a2, QMAP1, QMAP2, rounding="bnb", **kw)
        else:
            R.adam32_step(t.p, g, t.s1, t.s2, **kw)
    elif kind == "momentum":
        kw = dict(step=step, lr=h["lr"], momentum=h["momentum"], weight_decay=weight_decay)
        if t.q8:
            R.sgd8bit_step(t.p, g, t.s1, t.a1, QMAP1, rounding="bnb", **kw)
        else:
            R.sgd32_step(t.p, g, t.s1, **kw)
    else:
        kw = dict(lr=h["lr"], betas=(h["beta1"], h["beta2"]), weight_decay=weight_decay)
        if t.q8:
            R.lion8bit_step(t.p, g, t.s1, t.a1, QMAP1, step=step, rounding="bnb", **kw)
        else:
            R.lion32_step(t.p, g, t.s1, **kw)


def assert_bits(a, b, what):
    """Same bits, except that any NaN equals any NaN."""
    assert a.shape == b.shape and a.dtype == b.dtype, what
    if a.dtype.kind != "f":
        bad = a != b
    else:
        nan = np.isnan(a) & np.isnan(b)
        u = np.dtype(f"u{a.dtype.itemsize}")
        bad = (a.view(u) != b.view(u)) & ~nan
    assert not bad.any(), (f"{what}: {int(bad.sum())} of {a.size} differ, first at "
                           f"{np.argwhere(bad)[0]}: {a[bad][:4]} vs {b[bad][:4]}")


def assert_same(ts, refs, what):
    for i, (t, r) in enumerate(zip(ts, refs)):
        for name in ("p", "s1", "s2", "a1", "a2"):
            a, b = getattr(t, name), getattr(r, name)
            if a is not None:
                assert_bits(a, b, f"{what}: tensor {i} ({t.p.size} values, "
                                  f"{'8' if t.q8 else '32'}-bit) {name}")


def make_tensors(rng, kind, sizes=SIZES):
    # every size on both paths, interleaved, in one call
    return [Tensor(rng, n, kind, q8) for n in sizes for q8 in (True, False)]


def grads_for(rng, ts):
    return [(t.scale * rng.standard_normal(t.shape)).astype(np.float32) for t in ts]


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("kind", KINDS)
def test_native_equals_reference_bitwise(kind, weight_decay):
    rng = np.random.default_rng([KINDS.index(kind), int(weight_decay * 100)])
    ts = make_tensors(rng, kind)
    refs = [t.copy() for t in ts]
    for step in range(1, 7):
        grads = grads_for(rng, ts)
        native_step(kind, ts, grads, step, weight_decay)
        for r, g in zip(refs, grads):
            reference_step(kind, r, g, step, weight_decay)
        assert_same(ts, refs, f"{kind} wd={weight_decay} step {step}")
    # the state grew: not a trivially zero comparison
    assert all(np.any(t.a1 > 0) for t in ts if t.q8)
    assert all(np.any(t.s1 != 0) for t in ts if t.p.size > 1)


def _run_fixed(kind, steps=3):
    """A fixed-seed run (as the ISA children do); the final arrays in one flat list."""
    rng = np.random.default_rng(1234)
    ts = make_tensors(rng, kind, [257, 4095, 70001, 40000])
    ts[-2].scale = np.float32(1e-39)  # blocks with a subnormal absmax
    for step in range(1, steps + 1):
        native_step(kind, ts, grads_for(rng, ts), step, 0.01)
    return [a for t in ts for a in t.arrays()]


def test_threads_give_the_same_bits():
    old = fusedoptim.get_num_threads() if hasattr(fusedoptim, "get_num_threads") else None
    try:
        for kind in KINDS:
            fusedoptim.set_num_threads(1)
            one = _run_fixed(kind)
            fusedoptim.set_num_threads(2)
            two = _run_fixed(kind)
            for i, (a, b) in enumerate(zip(one, two)):
                assert_bits(a, b, f"{kind} array {i}, 1 vs 2 threads")
    finally:
        fusedoptim.set_num_threads(old or 1)


_CHILD = """
import sys, numpy as np
sys.path.insert(0, {tests!r})
import fusedoptim
from test_eightbit_native import _run_fixed, KINDS
assert fusedoptim.build_info()["isa"] == {isa!r}
assert fusedoptim.build_info()["blockwise8_kernels"] == {kernels!r}
fusedoptim.set_num_threads(2)
out = {{}}
for kind in KINDS:
    for i, a in enumerate(_run_fixed(kind)):
        out[f"{{kind}}_{{i}}"] = a
np.savez({path!r}, **out)
"""


def _kernel_sets():
    """(FUSEDOPTIM_ISA, FUSEDOPTIM_NO_VBMI, the kernels that run) for every set of 8-bit
    kernels this CPU can run: each ISA path, and on an AVX-512 CPU with VBMI both the
    byte-permute kernels and the gather kernels of the avx512 path."""
    info = fusedoptim.build_info()
    cpu = info["cpu_features"]
    vbmi = cpu.get("avx512vbmi") and cpu.get("avx512bw")
    sets = []
    for isa in info["isa_supported"]:
        if isa == "avx512" and vbmi:
            sets += [(isa, "", "avx512vbmi"), (isa, "1", "avx512")]
        else:
            sets.append((isa, "", isa))
    return sets


@pytest.mark.parametrize("isa,no_vbmi,kernels", _kernel_sets(),
                         ids=[k for _, _, k in _kernel_sets()])
def test_every_isa_path_gives_the_same_bits(isa, no_vbmi, kernels, tmp_path):
    path = str(tmp_path / f"{kernels}.npz")
    env = dict(os.environ, FUSEDOPTIM_ISA=isa, FUSEDOPTIM_NO_VBMI=no_vbmi)
    code = _CHILD.format(tests=os.path.dirname(os.path.abspath(__file__)), isa=isa,
                         kernels=kernels, path=path)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    got = np.load(path)
    fusedoptim.set_num_threads(1)
    for kind in KINDS:
        for i, a in enumerate(_run_fixed(kind)):
            assert_bits(got[f"{kind}_{i}"], a, f"{kind} array {i}: {kernels} vs this process's path")


def test_blockwise8_kernels_are_reported():
    info = fusedoptim.build_info()
    cpu = info["cpu_features"]
    if info["isa"] == "avx512" and cpu["avx512vbmi"] and cpu["avx512bw"] and \
            os.environ.get("FUSEDOPTIM_NO_VBMI", "") in ("", "0"):
        assert info["blockwise8_kernels"] == "avx512vbmi"
    else:
        assert info["blockwise8_kernels"] == info["isa"]


# ----------------------------------------------------------------- edge cases of the quantizer

def _reference_with_maps(kind, t, g, step, q1, q2):
    h = HYPER[kind]
    if kind == "adam":
        R.adam8bit_step(t.p, g, t.s1, t.s2, t.a1, t.a2, q1, q2, rounding="bnb", step=step,
                        lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"])
    elif kind == "momentum":
        R.sgd8bit_step(t.p, g, t.s1, t.a1, q1, rounding="bnb", step=step, lr=h["lr"],
                       momentum=h["momentum"])
    else:
        R.lion8bit_step(t.p, g, t.s1, t.a1, q1, step=step, rounding="bnb", lr=h["lr"],
                        betas=(h["beta1"], h["beta2"]))


# Sorted maps other than the dynamic ones: a uniform grid; one with midpoints below -1
# (bins whose code is never 0); one whose top midpoints lie above 1 (the top bin's code is
# below 255: the avx512vbmi kernels fall back to the table gather for it).
MAPS = {
    "uniform": np.linspace(-1, 1, 256, dtype=np.float32),
    "below": np.linspace(-1.5, 1, 256, dtype=np.float32),
    "above": np.linspace(-1, 1.5, 256, dtype=np.float32),
}


@pytest.mark.parametrize("name", sorted(MAPS))
@pytest.mark.parametrize("kind", KINDS)
def test_other_maps_equal_reference(kind, name):
    rng = np.random.default_rng([KINDS.index(kind), len(name)])
    q = MAPS[name]
    ts = [Tensor(rng, n, kind, True) for n in (256, 4096, 70001)]
    refs = [t.copy() for t in ts]
    for step in range(1, 4):
        grads = grads_for(rng, ts)
        native_step(kind, ts, grads, step, 0.0, qmap1=q, qmap2=q)
        for r, g in zip(refs, grads):
            _reference_with_maps(kind, r, g, step, q, q)
        assert_same(ts, refs, f"{kind} map {name} step {step}")


def test_kept_map_tables_follow_each_map():
    """The native side keeps the tables of the last 8 maps it saw (blockwise8_tables.h):
    11 distinct maps, each used twice out of order from two threads (so tables are
    found, evicted and rebuilt while another step runs), each step equal to the
    reference with its own map."""
    import threading

    rng = np.random.default_rng(77)
    maps = [np.sort(rng.uniform(-1, 1, 256)).astype(np.float32) for _ in range(11)]
    for q in maps:
        q[0], q[-1] = -1.0, 1.0
    order = [i % 11 for i in range(22)]
    rng.shuffle(order)
    failures = []

    def run(indices, seed):
        r = np.random.default_rng(seed)
        for i in indices:
            q = maps[i]
            ts = [Tensor(r, n, "momentum", True) for n in (256, 4096)]
            refs = [t.copy() for t in ts]
            grads = grads_for(r, ts)
            native_step("momentum", ts, grads, 1, 0.0, qmap1=q)
            for ref, g in zip(refs, grads):
                _reference_with_maps("momentum", ref, g, 1, q, q)
            try:
                assert_same(ts, refs, f"map {i}")
            except AssertionError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=run, args=(order[k::2], k)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures[0]


@pytest.mark.parametrize("kind", KINDS)
def test_subnormal_absmax_equals_reference(kind):
    # blocks whose absmax is subnormal (1 / absmax is inf: the bins clamp) next to
    # ordinary blocks
    rng = np.random.default_rng(KINDS.index(kind) + 40)
    ts = [Tensor(rng, n, kind, True) for n in (4096, 70001)]
    refs = [t.copy() for t in ts]
    for step in range(1, 4):
        grads = grads_for(rng, ts)
        for g in grads:
            flat = g.reshape(-1)
            flat[: flat.size // 2] *= np.float32(1e-38)
        with np.errstate(all="ignore"):
            native_step(kind, ts, grads, step, 0.0)
            for r, g in zip(refs, grads):
                reference_step(kind, r, g, step, 0.0)
        assert_same(ts, refs, f"{kind} subnormal step {step}")
    a1 = np.concatenate([t.a1 for t in ts])
    assert ((a1 > 0) & (a1 < np.finfo(np.float32).tiny)).any()


# ----------------------------------------------------------------- non-finite values

def _rule_codes(x, qmap):
    """The block rule: codes 0 where a block's absmax is not in (0, inf)."""
    codes, absmax = R.quantize_blockwise(x, qmap)
    bad = ~((absmax > 0) & np.isfinite(absmax))
    per = np.repeat(bad, 256)[: x.size].reshape(codes.shape)
    return np.where(per, np.uint8(0), codes), absmax


def _reference_nonfinite(kind, t, g, step, wd):
    """The reference step, its requantization restated with the block rule."""
    calls = []
    real = R._requantize

    def requantize(s, codes, absmax, qmap, rounding):
        c, a = _rule_codes(s, qmap)
        codes.reshape(-1)[:] = c.reshape(-1)
        absmax[:] = a
        calls.append(1)

    R._requantize = requantize
    try:
        reference_step(kind, t, g, step, wd)
    finally:
        R._requantize = real


@pytest.mark.parametrize("kind", KINDS)
def test_nonfinite_grads_follow_the_block_rule(kind):
    rng = np.random.default_rng(77)
    ts = [Tensor(rng, n, kind, True) for n in (1000, 4096, 70001)]
    ts += [Tensor(rng, n, kind, False) for n in (300,)]
    for step in range(1, 3):  # a finite state first
        native_step(kind, ts, grads_for(rng, ts), step, 0.01)
    for step in range(3, 6):
        grads = grads_for(rng, ts)
        for g in grads:
            flat = g.reshape(-1)
            k = max(1, flat.size // 500)
            flat[rng.integers(0, flat.size, k)] = np.nan
            flat[rng.integers(0, flat.size, k)] = np.inf
            flat[rng.integers(0, flat.size, k)] = -np.inf
        refs = [t.copy() for t in ts]  # the reference from the native state
        native_step(kind, ts, grads, step, 0.01)
        for r, g in zip(refs, grads):
            _reference_nonfinite(kind, r, g, step, 0.01)
        assert_same(ts, refs, f"{kind} non-finite step {step}")
        q8 = [t for t in ts if t.q8]
        assert any(np.isnan(t.a1).any() for t in q8)
        # codes of non-finite blocks are 0
        for t in q8:
            bad = ~((t.a1 > 0) & np.isfinite(t.a1))
            assert not t.s1.reshape(-1)[np.repeat(bad, 256)[: t.s1.size]].any()


def test_inf_block_gets_zero_codes():
    # one huge-but-finite grad overflows v to inf in its block only
    rng = np.random.default_rng(5)
    t = Tensor(rng, 1024, "adam", True)
    g = (1e-3 * rng.standard_normal(1024)).astype(np.float32)
    g[300] = 3e38
    native_step("adam", [t], [g], 1, 0.0)
    assert np.isinf(t.a2[1]) and not t.s2[256:512].any()
    assert np.isfinite(t.a2[[0, 2, 3]]).all() and t.s2[:256].any()


# ----------------------------------------------------------------- bad input

def _good_call(kind, rng):
    ts = [Tensor(rng, 5000, kind, True), Tensor(rng, 100, kind, False)]
    grads = grads_for(rng, ts)
    adam = kind == "adam"
    args = dict(kind=kind, params=[t.p for t in ts], grads=grads, state1s=[t.s1 for t in ts],
                state2s=[t.s2 for t in ts] if adam else None, absmax1s=[t.a1 for t in ts],
                absmax2s=[t.a2 for t in ts] if adam else None, qmap1=QMAP1.copy(),
                qmap2=QMAP2.copy() if adam else None)
    return args


def _all_arrays(args):
    out = []
    for v in args.values():
        if isinstance(v, np.ndarray):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            out += [a for a in v if isinstance(a, np.ndarray)]
    return out


def _set(key, i, value):
    def f(a):
        a[key] = list(a[key])
        a[key][i] = value(a) if callable(value) else value
    return f


BAD = [  # (kind, change, exception, words in the message)
    ("adam", lambda a: a.update(kind="adamw"), ValueError, ["kind", "adamw"]),
    ("adam", lambda a: a.update(kind=3), TypeError, ["kind"]),
    ("adam", lambda a: a.update(grads=a["grads"][:1]), ValueError, ["grads", "entries"]),
    ("adam", lambda a: a.update(state2s=None), TypeError, ["state2s"]),
    ("adam", lambda a: a.update(absmax2s=a["absmax2s"] + [None]), ValueError, ["absmax2s"]),
    ("adam", _set("params", 0, lambda a: a["params"][0].astype(np.float64)), TypeError,
     ["params[0]", "float64"]),
    ("adam", _set("params", 0, lambda a: a["params"][0][::2]), ValueError, ["params[0]"]),
    ("adam", _set("grads", 1, lambda a: a["grads"][1][:50]), ValueError, ["grads[1]", "shape"]),
    ("adam", _set("grads", 1, lambda a: a["grads"][1].astype(np.float64)), TypeError, ["grads[1]"]),
    ("adam", _set("state1s", 0, lambda a: a["state1s"][0].astype(np.int8)), TypeError,
     ["state1s[0]", "int8"]),
    ("adam", _set("state1s", 1, lambda a: a["state1s"][1].astype(np.float64)), TypeError,
     ["state1s[1]", "float64"]),
    ("adam", _set("state2s", 0, lambda a: a["state2s"][0].astype(np.float32)), TypeError,
     ["state2s[0]"]),
    ("adam", _set("state1s", 0, lambda a: a["state1s"][0][:10]), ValueError, ["state1s[0]", "shape"]),
    ("adam", _set("absmax1s", 0, lambda a: a["absmax1s"][0][:-1]), ValueError,
     ["absmax1s[0]", "(20,)"]),
    ("adam", _set("absmax2s", 0, None), ValueError, ["absmax2s[0]", "missing"]),
    ("adam", _set("absmax1s", 1, lambda a: np.zeros(1, np.float32)), ValueError,
     ["absmax1s[1]", "None"]),
    ("adam", _set("absmax1s", 0, lambda a: a["absmax1s"][0].astype(np.float64)), TypeError,
     ["absmax1s[0]"]),
    ("adam", lambda a: a.update(qmap1=None), ValueError, ["qmap1", "missing"]),
    ("adam", lambda a: a.update(qmap2=a["qmap2"][:255]), ValueError, ["qmap2", "256"]),
    ("adam", lambda a: a.update(qmap1=a["qmap1"][::-1].copy()), ValueError, ["qmap1", "sorted"]),
    ("adam", lambda a: a.update(qmap1=a["qmap1"].astype(np.float64)), TypeError, ["qmap1"]),
    ("adam", _set("params", 1, lambda a: a["grads"][1]), ValueError, ["grads[1]", "shares memory"]),
    ("adam", _set("state2s", 0, lambda a: a["state1s"][0]), ValueError, ["shares memory"]),
    ("adam", _set("absmax2s", 0, lambda a: a["absmax1s"][0]), ValueError, ["shares memory"]),
    ("lion", lambda a: a.update(state2s=[np.zeros(5000, np.uint8), None]), ValueError,
     ["state2s[0]", "None"]),
    ("lion", lambda a: a.update(qmap2=QMAP2), ValueError, ["qmap2", "None"]),
    ("momentum", _set("state1s", 0, lambda a: np.zeros(5000, np.uint8)), None, None),  # valid
]


def _readonly(a):
    a["params"] = list(a["params"])
    p = a["params"][0].copy()
    p.flags.writeable = False
    a["params"][0] = p


BAD += [("momentum", _readonly, ValueError, ["params[0]", "read-only"])]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_input_is_refused_and_nothing_changes(case):
    kind, change, exc, words = BAD[case]
    rng = np.random.default_rng(case)
    args = _good_call(kind, rng)
    # a state that is not zero, so that a partial update would show
    native_step_kw = dict(step=1, weight_decay=0.0, **HYPER[kind])
    _core.blockwise8_step(**args, **native_step_kw)
    change(args)
    before = [a.copy() for a in _all_arrays(args)]
    if exc is None:
        _core.blockwise8_check(**args)
        return
    with pytest.raises(exc) as err:
        _core.blockwise8_check(**args)
    for w in words:
        assert w in str(err.value), str(err.value)
    with pytest.raises(exc):
        _core.blockwise8_step(**args, **dict(native_step_kw, step=2))
    for a, b in zip(_all_arrays(args), before):
        assert_bits(a, b, "an array changed by a refused call")


def test_names_label_errors():
    rng = np.random.default_rng(3)
    args = _good_call("adam", rng)
    args["state1s"][1] = args["state1s"][1].astype(np.int16)
    with pytest.raises(TypeError, match=r"state1s\[fc.bias\]"):
        _core.blockwise8_check(**args, names=["fc.weight", "fc.bias"])


def test_momentum_zero_is_refused():
    rng = np.random.default_rng(4)
    args = _good_call("momentum", rng)
    before = [a.copy() for a in _all_arrays(args)]
    with pytest.raises(ValueError, match="momentum"):
        _core.blockwise8_step(**args, lr=0.1, momentum=0.0, step=1)
    for a, b in zip(_all_arrays(args), before):
        assert_bits(a, b, "an array changed by a refused call")


def test_step_must_be_positive():
    args = _good_call("lion", np.random.default_rng(8))
    with pytest.raises(ValueError, match="step"):
        _core.blockwise8_step(**args, lr=0.1, step=0)


def test_32bit_only_call_needs_no_qmap():
    rng = np.random.default_rng(9)
    t = Tensor(rng, 300, "adam", False)
    r = t.copy()
    g = grads_for(rng, [t])
    _core.blockwise8_step("adam", [t.p], g, [t.s1], [t.s2], [None], [None], None, None,
                          step=1, **HYPER["adam"])
    reference_step("adam", r, g[0], 1, 0.0)
    assert_same([t], [r], "32-bit only")
