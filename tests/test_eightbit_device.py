"""The 8-bit blockwise optimizers on CUDA device arrays (csrc/cuda/blockwise8_device.h),
in the device columns of tests/device_columns.py: "emulated" (fusedoptim._cuda_emulator,
the kernel body run on the host over FakeDeviceArray, on every machine) and "cuda" (a
real GPU with CuPy, skipped without one).

The contract is bit for bit the host kernels (fusedoptim._core.blockwise8_step, itself
bit for bit the NumPy reference: tests/test_eightbit_native.py): params, codes, absmax
and float32 moments, for every kind, 8-bit and 32-bit state in one call, partial blocks,
tensors of many 256-value blocks and many grid blocks, more tensors than one launch
holds, non-finite blocks, other sorted maps; the same errors as the host, raised before
anything changes; and the optimizer classes on device arrays against the same classes on
NumPy arrays, state_dict included. A NaN that a step computes may carry other bits on a
GPU (CUDA makes every NaN canonical): NaNs are compared as NaNs, all other values by bits.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import fusedoptim as fo
from fusedoptim import _backends, _core
from device_columns import cpu_gpu_cpu
from test_eightbit import CLASSES, _grads as class_grads, _params, lockstep
from test_eightbit_native import (HYPER, KINDS, QMAP1, QMAP2, Tensor, assert_bits,
                                  assert_same, grads_for, native_step)

# Below one block, one block, a partial last block, one value past a grid block (4096
# values), many blocks and 18 grid blocks (70001); 4096 and 10000 are 3-D and 2-D.
SIZES = [1, 255, 256, 257, 4095, 4096, 4097, 10000, 70001]
STEPS = 4
NAMES = ("p", "s1", "s2", "a1", "a2")


# ------------------------------------------------------------------ helpers
def fresh(rng, n, kind, q8):
    """A param with random state (test_eightbit_native's Tensor starts at zero): random
    codes and absmax, or small random float32 moments."""
    t = Tensor(rng, n, kind, q8)
    if q8:
        for c in (t.s1, t.s2):
            if c is not None:
                c[...] = rng.integers(0, 256, c.shape)
        t.a1[:] = rng.uniform(0.01, 1.0, t.a1.size)
        if t.a2 is not None:
            t.a2[:] = rng.uniform(1e-6, 1e-2, t.a2.size)
    else:
        t.s1[...] = 0.1 * rng.standard_normal(t.shape)
        if t.s2 is not None:
            t.s2[...] = 0.01 * rng.random(t.shape)
    return t


class DeviceSide:
    """Device copies (one column's arrays) of host Tensors, and their step."""

    def __init__(self, column, ts, kind, q1=QMAP1, q2=QMAP2):
        self.column, self.ts, self.kind = column, ts, kind
        self.dev = [{k: column.device(getattr(t, k)) for k in NAMES
                     if getattr(t, k) is not None} for t in ts]
        self.q1 = column.device(q1)
        self.q2 = column.device(q2) if kind == "adam" else None

    def step(self, grads, step, wd):
        two = self.kind == "adam"
        col = lambda k: [d.get(k) for d in self.dev]  # noqa: E731
        _backends.device_module().blockwise8_step(
            self.kind, col("p"), [self.column.device(x) for x in grads], col("s1"),
            col("s2") if two else None, col("a1"), col("a2") if two else None, self.q1,
            self.q2, step=step, weight_decay=wd, **HYPER[self.kind])

    def host(self):
        """The device arrays, read back into Tensor copies."""
        out = []
        for t, d in zip(self.ts, self.dev):
            c = t.copy()
            for k, a in d.items():
                setattr(c, k, self.column.host(a))
            out.append(c)
        return out


def _run(column, kind, ts, wd, rng, steps=STEPS, q1=QMAP1, q2=QMAP2):
    """Steps on host and device copies of ts; asserts equality after every step."""
    host = [t.copy() for t in ts]
    dev = DeviceSide(column, ts, kind, q1, q2)
    for step in range(1, steps + 1):
        grads = grads_for(rng, ts)
        native_step(kind, host, grads, step, wd, q1, q2)
        dev.step(grads, step, wd)
        assert_same(dev.host(), host, f"{kind} wd={wd} step {step}")
    return host


# ------------------------------------------------------------------ the kernel
@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("kind", KINDS)
def test_kernel_equals_host_bitwise(kind, weight_decay, column):
    """Every size on both paths, interleaved, in one call, four steps (momentum's first
    step has its own rule): params, codes, absmax and float32 moments bit for bit."""
    rng = np.random.default_rng([KINDS.index(kind), int(weight_decay * 100)])
    ts = [fresh(rng, n, kind, q8) for n in SIZES for q8 in (True, False)]
    host = _run(column, kind, ts, weight_decay, rng)
    # the step did something: codes moved and absmax changed in every 8-bit tensor
    for t, h in zip(ts, host):
        assert t.p.size < 2 or not np.array_equal(t.p, h.p)  # lion's +-lr may cancel
        if t.q8:
            assert not np.array_equal(t.a1, h.a1) and np.all(h.a1 > 0)
            assert t.p.size < 2 or not np.array_equal(t.s1, h.s1)


@pytest.mark.parametrize("kind", KINDS)
def test_more_tensors_than_one_launch_holds(kind, column):
    """More tensors than one launch's arguments hold (BLOCKWISE8_TENSORS): the call is
    cut into several launches, each tensor updated once, and equal to the host."""
    rng = np.random.default_rng(10 + KINDS.index(kind))
    n = _backends.device_module().BLOCKWISE8_TENSORS + 13
    sizes = rng.integers(1, 700, n)
    ts = [fresh(rng, int(s), kind, bool(i % 3)) for i, s in enumerate(sizes)]
    _run(column, kind, ts, 0.01, rng, steps=2)


@pytest.mark.parametrize("kind", KINDS)
def test_other_sorted_maps(kind, column):
    """Random sorted maps with repeated values (empty bins): the kernel's bins, built on
    the device from the map, give the host table's codes."""
    rng = np.random.default_rng(20 + KINDS.index(kind))
    q1 = np.sort(np.round(rng.uniform(-1, 1, 256), 2)).astype(np.float32)
    q2 = np.sort(np.round(rng.uniform(0, 1, 256), 2)).astype(np.float32)
    assert len(np.unique(q1)) < 256 and len(np.unique(q2)) < 256
    ts = [fresh(rng, n, kind, True) for n in (1000, 4097)]
    _run(column, kind, ts, 0.0, rng, steps=3, q1=q1, q2=q2)


def _sweep_lut(q):
    """The host's table (optimizers/blockwise8_tables.cpp, blockwise8_lut) by its own merge
    sweep, which gives a code to every bin for any map, sorted or not."""
    mid = (np.float32(0.5) * (q[:-1] + q[1:])).astype(np.float32)
    v = (np.float32(-1.0) + (np.float32(2.0) * np.arange(65536, dtype=np.float32))
         / np.float32(65535.0)).astype(np.float32)
    lut, k = np.empty(65536, np.uint8), 0
    for j in range(65536):
        while k < 255 and mid[k] < v[j]:
            k += 1
        lut[j] = k
    return lut


@pytest.mark.parametrize("defect", ["swapped", "nan"])
def test_unsorted_device_map_follows_the_host_table_rule(defect, column):
    """The device does not read a map's values on the host, so it does not refuse an
    unsorted one (the host does): its bins still give the codes of the host table's sweep.
    Momentum's first step with weight_decay 0 keeps b = g exactly, so the expected codes
    follow from the grads: absmax = max |g| per block, code = lut[trunc(fma(h, 65535,
    0.5))] with h = (clamp(g / absmax) + 1) / 2, in float32."""
    rng = np.random.default_rng(25)
    q = QMAP1.copy()
    if defect == "swapped":
        for i in (3, 100, 180, 181, 250):
            q[i], q[i + 2] = q[i + 2], q[i]
    else:
        q[100] = np.nan
    lut = _sweep_lut(q)
    t = fresh(rng, 3 * 256 + 7, "momentum", True)
    g = rng.standard_normal(t.shape).astype(np.float32)
    dev = DeviceSide(column, [t], "momentum", q1=q)
    dev.step([g], 1, 0.0)
    got = dev.host()[0]
    pad = np.pad(g, (0, (-g.size) % 256)).reshape(-1, 256)
    absmax = np.abs(pad).max(axis=1).astype(np.float32)
    inv = np.repeat(np.float32(1.0) / absmax, 256)[:g.size]
    s = np.clip((g * inv).astype(np.float32), -1, 1)
    h = ((s + np.float32(1.0)) * np.float32(0.5)).astype(np.float32)
    j = (h.astype(np.float64) * 65535.0 + 0.5).astype(np.float32).astype(np.int64)
    assert_bits(got.a1, absmax, "absmax")
    assert_bits(got.s1, lut[j], "codes")
    assert len(np.unique(lut[j])) > 20


def _nonfinite_tensor(rng, kind):
    """A param of 9 blocks, each with its own case, and a 3-value tail block."""
    t = fresh(rng, 9 * 256 + 3, kind, True)
    g = (0.1 * rng.standard_normal(t.shape)).astype(np.float32)
    g[300] = np.nan                        # block 1: a NaN grad
    g[600] = np.inf                        # block 2: an inf grad
    g[1000] = -np.inf                      # block 3
    blk = slice(1024, 1280)                # block 4: zero grads, zero state: absmax 0
    g[blk], t.p[blk], t.a1[4] = 0.0, 0.0, 0.0
    if t.a2 is not None:
        t.a2[4] = 0.0
    blk = slice(1280, 1536)                # block 5: subnormal moments (1 / absmax is inf)
    g[blk] = rng.uniform(-1, 1, 256).astype(np.float32) * np.float32(1e-38)
    t.p[blk], t.a1[5] = 0.0, 0.0
    if t.a2 is not None:
        t.a2[5] = 0.0
    g[1600] = np.float32(3e38)             # block 6: a huge grad (v overflows for adam)
    t.a1[7] = np.nan                       # block 7: a NaN absmax read back
    t.p[2000] = np.nan                     # block 7: a NaN param
    return t, g


@pytest.mark.parametrize("kind", KINDS)
def test_nonfinite_blocks_match_host(kind, column):
    """NaN and inf grads, a NaN absmax, a NaN param, an all-zero block (absmax 0, codes 0)
    and a subnormal one: each block as on the host, the others untouched by them."""
    rng = np.random.default_rng(30 + KINDS.index(kind))
    t, g = _nonfinite_tensor(rng, kind)
    f32 = fresh(rng, 700, kind, False)
    f32.s1[5] = np.nan
    ts = [t, f32]
    host = [x.copy() for x in ts]
    dev = DeviceSide(column, ts, kind)
    for step in (1, 2, 3):
        grads = [g, grads_for(rng, [f32])[0]]
        native_step(kind, host, grads, step, 0.01)
        dev.step(grads, step, 0.01)
        got = dev.host()
        assert_same(got, host, f"{kind} step {step}")
        # a NaN absmax is stored as the host's NaN, bit for bit, on any device
        for name in ("a1", "a2"):
            a = getattr(got[0], name)
            if a is not None:
                assert np.isnan(a).any()
                assert np.all(a.view(np.uint32)[np.isnan(a)] == 0x7FC00000)
    assert np.all(host[0].s1[256:512] == 0) and np.isnan(host[0].a1[1])
    assert np.isfinite(host[0].a1[0]) and np.all(np.isfinite(host[0].p[:256]))


# ------------------------------------------------------------------ bad arguments
def _call(rng, kind):
    """A valid call over 3 tensors (8-bit, 32-bit, 8-bit) as host Tensors."""
    return [fresh(rng, 600, kind, True), fresh(rng, 40, kind, False),
            fresh(rng, 300, kind, True)]


def _defects(kind):
    """(name, mutate(args dict, make) -> None, error, message regex). `make(a)` makes an
    array of the call's side from a NumPy array a."""
    def setp(i, k, fn):
        def mutate(a, make):
            a[k][i] = fn(a[k][i], make)
        return mutate

    def setarg(k, fn):
        def mutate(a, make):
            a[k] = fn(a[k], make)
        return mutate

    out = [
        ("a float64 param", setp(1, "params", lambda x, mk: mk(np.zeros(40))),
         TypeError, r"params\[1\]: dtype .* float32 params"),
        ("a float64 grad", setp(0, "grads", lambda x, mk: mk(np.zeros(600))),
         TypeError, r"grads\[0\]: dtype"),
        ("float64 codes", setp(2, "state1s", lambda x, mk: mk(np.zeros(300))),
         TypeError, r"state1s\[2\]: dtype .* expected uint8"),
        ("codes of another shape", setp(0, "state1s", lambda x, mk: mk(np.zeros(599, np.uint8))),
         ValueError, r"state1s\[0\]: shape"),
        ("absmax one block short", setp(0, "absmax1s",
                                        lambda x, mk: mk(np.zeros(2, np.float32))),
         ValueError, r"absmax1s\[0\]: shape \(2,\); .* needs shape \(3,\)"),
        ("absmax float64", setp(2, "absmax1s", lambda x, mk: mk(np.zeros(2))),
         TypeError, r"absmax1s\[2\]: dtype"),
        ("absmax of a 32-bit state", setp(1, "absmax1s",
                                          lambda x, mk: mk(np.zeros(1, np.float32))),
         ValueError, r"absmax1s\[1\]: expected None"),
        ("codes aliasing another param's codes",
         lambda a, mk: a["state1s"].__setitem__(2, a["state1s"][0][:300]),
         ValueError, r"shares memory"),
        ("a grad that is its param", lambda a, mk: a["grads"].__setitem__(0, a["params"][0]),
         ValueError, r"grads\[0\] shares memory with params\[0\]"),
        ("qmap1 missing", setarg("qmap1", lambda x, mk: None), ValueError, r"qmap1: missing"),
        ("qmap1 of 255 values", setarg("qmap1", lambda x, mk: mk(QMAP1[:255].copy())),
         ValueError, r"qmap1: shape"),
        ("a strided param", setp(1, "params",
                                 lambda x, mk: mk(np.zeros(80, np.float32))[::2]),
         ValueError, r"params\[1\]: array is not C-contiguous"),
        ("kind unknown", setarg("kind", lambda x, mk: "adamw"), ValueError, r"kind"),
        ("one list short", lambda a, mk: a["grads"].pop(), ValueError, r"grads: has 2 entries"),
        ("step 0", lambda a, mk: a["kw"].__setitem__("step", 0), ValueError, r"step"),
    ]
    if kind == "adam":
        out.append(("uint8 and float32 moments mixed",
                    setp(1, "state2s", lambda x, mk: mk(np.zeros(40, np.uint8))),
                    TypeError, r"state2s\[1\]: dtype uint8 does not match"))
    else:
        out.append(("a second map for one moment", setarg("qmap2", lambda x, mk: mk(QMAP2.copy())),
                    ValueError, r"qmap2: expected None"))
    if kind == "momentum":
        out.append(("momentum 0", lambda a, mk: a["kw"].__setitem__("momentum", 0.0),
                    ValueError, r"momentum: must not be 0"))
    return out


SCALAR_DEFECTS = {"step 0", "momentum 0"}


def _args(ts, kind, make, grads):
    two = kind == "adam"
    col = lambda k: [None if getattr(t, k) is None else make(getattr(t, k))  # noqa: E731
                     for t in ts]
    p, s1, s2, a1, a2 = col("p"), col("s1"), col("s2") if two else None, col("a1"), \
        col("a2") if two else None
    return dict(kind=kind, params=p, grads=[make(g) for g in grads], state1s=s1, state2s=s2,
                absmax1s=a1, absmax2s=a2, qmap1=make(QMAP1.copy()),
                qmap2=make(QMAP2.copy()) if kind == "adam" else None,
                kw=dict(step=2, weight_decay=0.01, **HYPER[kind]))


def _invoke(fn, a):
    kw = a["kw"]
    fn(a["kind"], a["params"], a["grads"], a["state1s"], a["state2s"], a["absmax1s"],
       a["absmax2s"], a["qmap1"], a["qmap2"], **kw)


@pytest.mark.parametrize("kind", KINDS)
def test_bad_arguments_raise_as_on_the_host(kind, column):
    """Each defect raises the host's error (type and message; the dtypes are named as the
    side spells them) from blockwise8_step and blockwise8_check, on both sides, and
    changes nothing."""
    mod = _backends.device_module()
    for name, mutate, error, match in _defects(kind):
        rng = np.random.default_rng(40)
        ts = _call(rng, kind)
        grads = grads_for(rng, ts)
        said = {}
        for side, make, step, check in (
                ("host", lambda a: a, _core.blockwise8_step, _core.blockwise8_check),
                ("device", column.device, mod.blockwise8_step, mod.blockwise8_check)):
            a = _args(ts, kind, make, grads)
            keep = [x for k in ("params", "state1s", "state2s", "absmax1s", "absmax2s")
                    for x in (a[k] or []) if x is not None]
            before = [np.array(column.host(x) if side == "device" else x) for x in keep]
            mutate(a, make)
            with pytest.raises(error, match=match) as e:
                _invoke(step, a)
            said[side] = _core_message(str(e.value))
            if name not in SCALAR_DEFECTS:  # the checks take no step scalars
                with pytest.raises(error, match=match):
                    _invoke(lambda *x, **kw: check(*x), a)
            after = [np.array(column.host(x) if side == "device" else x) for x in keep]
            for x, y in zip(before, after):
                assert_bits(y, x, f"{name} ({side}): an array changed")
        assert said["device"] == said["host"], name


def _core_message(msg):
    """An error's message without what differs by side: the dtype's spelling (NumPy's
    name, or a typestr) and the hints after it (which function makes a contiguous array)."""
    return re.sub(r"dtype \S+", "dtype _", re.split(r";| \(use ", msg)[0])


@pytest.mark.parametrize("what", ["params", "absmax1s", "state1s", "qmap1"])
def test_arrays_on_another_device_refused(what, column):
    """Every array of a call on one device: one on device 1 is named, nothing changes."""
    if column.devices() < 2:
        pytest.skip("one device")
    rng = np.random.default_rng(50)
    ts = _call(rng, "lion")
    a = _args(ts, "lion", column.device, grads_for(rng, ts))
    other = lambda x: column.device(column.host(x), device=1)  # noqa: E731
    if what == "qmap1":
        a["qmap1"] = other(a["qmap1"])
        match = r"qmap1: on CUDA device 1 but the call's first param is on device 0"
    elif what == "params":
        a["params"][2] = other(a["params"][2])
        match = r"params\[2\]: on CUDA device 1 but the call's first param is on device 0"
    else:
        a[what][0] = other(a[what][0])
        match = rf"{what}\[0\]: on CUDA device 1 but its param is on device 0"
    before = [column.host(x) for x in a["params"] + a["state1s"]]
    with pytest.raises(ValueError, match=match):
        _invoke(_backends.device_module().blockwise8_step, a)
    for x, y in zip(before, [column.host(x) for x in a["params"] + a["state1s"]]):
        assert_bits(y, x, what)


def test_host_array_among_device_arrays_refused(column):
    rng = np.random.default_rng(51)
    ts = _call(rng, "adam")
    a = _args(ts, "adam", column.device, grads_for(rng, ts))
    a["absmax2s"][2] = ts[2].a2
    with pytest.raises(TypeError, match=r"absmax2s\[2\]: a host \(NumPy\) array among CUDA "
                                        r"device arrays"):
        _invoke(_backends.device_module().blockwise8_step, a)


# ------------------------------------------------------------------ the classes
def _state_equal(a, b, what):
    sa, sb = a.state_dict()["state"], b.state_dict()["state"]
    assert sa.keys() == sb.keys()
    for i in sa:
        assert sa[i].keys() == sb[i].keys(), (what, i)
        for k in sa[i]:
            if k == "step":
                assert sa[i][k] == sb[i][k], (what, i)
            else:
                assert isinstance(sa[i][k], np.ndarray) and isinstance(sb[i][k], np.ndarray)
                assert_bits(sa[i][k], sb[i][k], f"{what}: state {i} {k}")


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_classes_on_device_equal_numpy_bitwise(name, column):
    """Eight steps, two groups (the second with its own lr), a param skipped on some steps
    (several calls per step), new device grads on every step: params and every state
    entry bit for bit those of the same class on NumPy arrays; the state lives on the
    device, bitsandbytes' maps included."""
    cls = getattr(fo, name)
    for t, host, dev, host_ps, dev_ps in lockstep(name, cls, cls, 8, column.device):
        for i, (x, y) in enumerate(zip(dev_ps, host_ps)):
            assert_bits(column.host(x), y, f"{name} step {t} param {i}")
    _state_equal(dev, host, name)
    kind = type(dev_ps[0])
    for i, p in enumerate(host_ps):
        st = dev.state[i]
        assert all(type(v) is kind for k, v in st.items() if k != "step"), i
        if p.size >= 4096:
            assert_bits(column.host(st["qmap1"]), QMAP1, "qmap1")
            assert column.host(st["state1"]).dtype == np.uint8
            if "qmap2" in st:
                assert_bits(column.host(st["qmap2"]), QMAP2, "qmap2")


@pytest.mark.parametrize("name", ["AdamW8bit", "SGD8bit"])
def test_state_dict_moves_host_device_host(name, column):
    """4 steps on NumPy params, 4 on device params loaded from that state_dict, 4 on NumPy
    params loaded from the device one == 12 steps on NumPy, bit for bit; the device
    state_dict holds NumPy copies."""
    kw = CLASSES[name]
    rng = np.random.default_rng(60)
    grads = [class_grads(rng, _params(3)) for _ in range(12)]
    straight, straight_ps, last, back = cpu_gpu_cpu(
        column, lambda ps: getattr(fo, name)(ps, **kw), _params(3), grads, "state1")
    for i, (x, y) in enumerate(zip(back, straight_ps)):
        assert_bits(x, y, f"param {i}")
    _state_equal(last, straight, name)


def test_found_inf_and_grad_scale_on_device(column):
    """grad_scale: the same step as unscaled grads; found_inf: nothing changes."""
    init = _params(4)
    host_ps, dev_ps = [p.copy() for p in init], [column.device(p) for p in init]
    host, dev = fo.AdamW8bit(host_ps), fo.AdamW8bit(dev_ps)
    rng = np.random.default_rng(5)
    g = class_grads(rng, init)
    host.step(g)
    dev.step([column.device(x * np.float32(1024)) for x in g], grad_scale=1024.0)
    before = [column.host(p) for p in dev_ps]
    dev.step([column.device(x) for x in class_grads(rng, init)], found_inf=True)
    for x, y, z in zip(dev_ps, before, host_ps):
        assert_bits(column.host(x), y, "found_inf changed a param")
        assert_bits(y, z, "grad_scale")
    _state_equal(dev, host, "grad_scale")


def test_refusals_on_device(column):
    """float64 and float16 device params are refused as on the host; NumPy params mixed
    with device params as every optimizer refuses them."""
    with pytest.raises(TypeError, match=r"params\[0\]: Lion8bit takes float32 params"):
        fo.Lion8bit([column.device(np.ones(5000, np.float64))])
    with pytest.raises(TypeError, match=r"params\[0\]: Lion8bit takes float32 params.*float16"):
        fo.Lion8bit([column.device(np.ones(5000, np.float16))])
    with pytest.raises(TypeError, match=r"params\[1\]: a host \(NumPy\) array among CUDA "
                                        r"device arrays"):
        fo.Adam8bit([column.device(np.ones(5000, np.float32)), np.ones(5000, np.float32)])
    with pytest.raises(TypeError, match=r"params\[1\]: .* is a CUDA device array"):
        fo.Adam8bit([np.ones(5000, np.float32), column.device(np.ones(5000, np.float32))])
