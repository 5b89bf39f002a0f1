"""16-bit params, grads and state on the CUDA path (cuda/access.h's MixedAccess):
float16 and bfloat16 params with state in their dtype, in float32 (``state_dtype``) or
in the other 16-bit dtype, float32 masters (``master_weights``), float32 params with
16-bit state, and stochastic rounding of each (the same random bits as the host: the
key of (seed, step, tensor, operand) and the element's index in its tensor).

Tolerances:

* the emulated CUDA kernel body against the host's scalar kernels (``set_isa("scalar")``):
  **bitwise**, every optimizer with a CUDA path, every mode, 4 steps, params and state.
  Both run the same float32 rules without FMA contraction and round with the same
  functions (engine/half_scalar.h), so nothing may differ. (Against the AVX2/AVX-512
  host paths, which contract a*b+c, an element differs where the float32 values do and
  fall on either side of a 16-bit rounding boundary; the nvcc build contracts too, so on
  a GPU the "cuda" column is checked within 1 ulp of the 16-bit result per step, from the
  same state, as test_half_precision.py checks the host against the NumPy reference.)
* the device path against itself (plan reuse against a fresh optimizer each step, a
  state_dict round trip through the host): bitwise.

bfloat16 has no ``__cuda_array_interface__`` typestr; an array whose ``dtype`` attribute is
ml_dtypes' bfloat16 (the emulator's FakeDeviceArray) is read as bfloat16. CuPy has no
bfloat16, so the "cuda" column runs float16 only.
"""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import _backends, _native, functional
from registry import CONFIGS, HOST_ONLY, IDS, SMALL_SHAPES, all_state, shapes_for

ml_dtypes = pytest.importorskip("ml_dtypes")
BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
SHAPES = SMALL_SHAPES + [(70001,)]
UNALIGNED = {3, 6}  # these params live one element into their buffer
#: (param dtype, keywords): every storage mode of a step
MODES = {
    "float16": (F16, {}),
    "bfloat16": (BF16, {}),
    "bfloat16-f32-state": (BF16, dict(state_dtype=np.float32)),
    "float16-master": (F16, dict(master_weights=True)),
    "bfloat16-f16-state-master": (BF16, dict(state_dtype=np.float16, master_weights=True)),
    "float32-bf16-state": (np.dtype(np.float32), dict(state_dtype=BF16)),
    "bfloat16-sr": (BF16, dict(stochastic_rounding=True)),
    "float16-f32-state-sr": (F16, dict(state_dtype=np.float32, stochastic_rounding=True)),
    "float16-master-sr": (F16, dict(master_weights=True, stochastic_rounding=True)),
    "float32-f16-state-sr": (np.dtype(np.float32), dict(state_dtype=F16,
                                                        stochastic_rounding=True)),
}
#: optimizers that refuse some modes on the host as well (test_half_precision.py)
MULTI_PASS = {"LAMB", "LARS", "Muon"}


def _make(rng, shapes, dtype, scale=1.0):
    return [np.asarray(scale * rng.standard_normal(s), np.float32).astype(dtype) for s in shapes]


def _host_of(column, a):
    return column.host(a) if hasattr(a, "__cuda_array_interface__") else np.asarray(a)


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint8).tobytes()


def _host_refuses(name, kw, dtype):
    """The host's own refusal of this mode (LAMB's 16-bit state, Muon's 16-bit params,
    masters of the multi-pass steps), or None."""
    try:
        getattr(fusedoptim, name)([np.ones(3, dtype)], **kw).step([np.ones(3, dtype)])
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _pair(column, name, kw, dtype, steps, seed):
    rng = np.random.default_rng(seed)
    shapes = shapes_for(name, SHAPES)
    init = _make(rng, shapes, dtype)
    host_params = [p.copy() for p in init]
    dev_params = [column.device(p, offset=1 if i in UNALIGNED else 0) for i, p in enumerate(init)]
    host = getattr(fusedoptim, name)(host_params, **kw)
    dev = getattr(fusedoptim, name)(dev_params, **kw)
    if kw.get("stochastic_rounding"):
        dev.rounding_seed = host.rounding_seed  # the same random bits
    for _ in range(steps):
        grads = _make(rng, shapes, dtype, 0.5)
        host.step(grads)
        dev.step([column.device(g) for g in grads])
    return host, host_params, dev, dev_params


@pytest.mark.parametrize("mode", list(MODES))
def test_emulated_kernels_equal_the_scalar_host_path(mode, restore_runtime):
    from device_columns import Column

    dtype, kw = MODES[mode]
    column = Column("emulated")
    column.setup()
    _native.set_isa("scalar")
    compared = 0
    try:
        for (name, ckw), cid in zip(CONFIGS, IDS):
            if name in HOST_ONLY or _host_refuses(name, dict(ckw, **kw), dtype):
                continue
            host, host_params, dev, dev_params = _pair(column, name, dict(ckw, **kw), dtype, 4,
                                                       seed=compared)
            for i, (a, b) in enumerate(zip(host_params, dev_params)):
                assert _bits(column.host(b)) == _bits(a), f"{cid}: param {i}"
            dev_state = all_state(dev)
            for key, value in all_state(host).items():
                got = dev_state[key]
                if isinstance(value, np.ndarray):
                    assert np.dtype(got.dtype) == value.dtype, f"{cid}: state {key}"
                    assert _bits(_host_of(column, got)) == _bits(value), f"{cid}: state {key}"
                else:
                    assert got == value, f"{cid}: state {key}"
            compared += 1
    finally:
        _backends.set_device_module(None)
    assert compared >= len(CONFIGS) // 2, compared


def _ulps16(a, b):
    def ordered(x):
        i = np.ascontiguousarray(x).view(np.int16).astype(np.int32)
        return np.where(i < 0, -(i & 0x7FFF), i)
    return np.abs(ordered(a) - ordered(b))


CONFORMANCE = [("Adam", dict(lr=0.01, weight_decay=0.1)), ("AdamW", dict(lr=0.01)),
               ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)), ("Adagrad", dict(lr=0.1)),
               ("RMSprop", dict(lr=0.01, centered=True))]


@pytest.mark.parametrize("mode", ["float16", "float16-master", "bfloat16"])
@pytest.mark.parametrize("cfg", CONFORMANCE, ids=[c[0] for c in CONFORMANCE])
def test_device_matches_the_host_path_per_step(cfg, mode, column):
    """Against this machine's host path (vector kernels, which contract a*b+c; so do the
    nvcc kernels, the emulator does not): each step from the same params and state, at
    most 1 element in 500 differs, by 1 ulp, except at most 1 in 5,000 where g + wd p or
    a momentum sum cancels (within 2^-20 of the array's largest value, as
    test_half_precision.py allows), each with 8 to spare over the test."""
    name, kw = cfg
    dtype, mkw = MODES[mode]
    if column.name == "cuda" and dtype == BF16:
        pytest.skip("CuPy has no bfloat16")
    rng = np.random.default_rng()
    shapes = [(70001,), (31, 33), (7,)]
    params = _make(rng, shapes, dtype)
    host = getattr(fusedoptim, name)(params, **kw, **mkw)
    totals = np.zeros(3, np.int64)  # differing, beyond 1 ulp and the slack, compared
    for step in range(4):
        dev_params = [column.device(p) for p in params]
        dev = getattr(fusedoptim, name)(dev_params, **kw, **mkw)
        if step:
            dev.load_state_dict(host.state_dict())
        grads = _make(rng, shapes, dtype, 0.5)
        host.step(grads)
        dev.step([column.device(g) for g in grads])
        pairs = list(zip(params, dev_params))
        pairs += [(v, dev.state[i][k]) for i in host.state for k, v in host.state[i].items()
                  if isinstance(v, np.ndarray) and v.dtype.itemsize == 2]
        for a, b in pairs:
            b = column.host(b)
            off = _ulps16(a, b)
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
            scale = float(np.max(np.abs(a.astype(np.float64)), initial=0.0))
            beyond = (off > 1) & (diff > 2.0**-20 * scale)
            # per array wide caps (a small array's count is overdispersed), the rates below
            assert np.count_nonzero(off) <= max(16, a.size // 100), f"step {step + 1}"
            assert np.count_nonzero(beyond) <= max(8, a.size // 2000), \
                (step + 1, off[beyond], a[beyond], b[beyond])
            totals += np.array([np.count_nonzero(off), np.count_nonzero(beyond), a.size])
    assert totals[0] <= totals[2] // 500 + 8, totals
    assert totals[1] <= totals[2] // 5000 + 8, totals


def _column_dtypes(column):
    return [F16] if column.name == "cuda" else [F16, BF16]


def test_state_lives_on_the_device_in_its_dtype(column):
    for dtype in _column_dtypes(column):
        rng = np.random.default_rng(5)
        params = [column.device(p) for p in _make(rng, [(300,), (4, 5)], dtype)]
        other = F16 if dtype == BF16 else BF16
        if column.name == "cuda":
            other = np.dtype(np.float32)
        opt = fusedoptim.Adam(params, lr=0.01, state_dtype=other, master_weights=True)
        opt.step([column.device(g) for g in _make(rng, [(300,), (4, 5)], dtype)])
        for i, p in enumerate(params):
            st = opt.state[i]
            for k in ("exp_avg", "exp_avg_sq", "master_param"):
                assert type(st[k]) is type(p), (i, k)
            assert np.dtype(st["exp_avg"].dtype) == other
            assert np.dtype(st["master_param"].dtype) == np.float32
            # the param is the master's rounding
            master = column.host(st["master_param"])
            assert _bits(column.host(p)) == _bits(master.astype(dtype))


@pytest.mark.parametrize("mode", ["float16", "bfloat16-f32-state", "float16-master",
                                  "float32-bf16-state", "float16-master-sr",
                                  "float32-f16-state-sr"])
def test_plan_and_state_dict_round_trip_are_bitwise(mode, column):
    """10 steps through the reused device plan == 5 steps, a state_dict through the host
    into a new optimizer on new device params, 5 more."""
    dtype, kw = MODES[mode]
    if column.name == "cuda" and BF16 in (dtype, kw.get("state_dtype")):
        pytest.skip("CuPy has no bfloat16")
    rng = np.random.default_rng(8)
    seed = int(rng.integers(0, 2**63))
    shapes = [(70001,), (7,), ()]
    init = _make(rng, shapes, dtype)
    grads = [_make(rng, shapes, dtype, 0.5) for _ in range(10)]
    hp = dict(lr=0.01, weight_decay=0.1, **kw)
    straight = [column.device(p) for p in init]
    opt = fusedoptim.AdamW(straight, **hp)
    opt.rounding_seed = seed  # read by the steps with stochastic_rounding only
    for g in grads:
        opt.step([column.device(x) for x in g])
    assert opt._fast is not None, "the device plan was not reused"

    first = [column.device(p) for p in init]
    a = fusedoptim.AdamW(first, **hp)
    a.rounding_seed = seed
    for g in grads[:5]:
        a.step([column.device(x) for x in g])
    sd = a.state_dict()
    resumed = [column.device(column.host(p)) for p in first]
    b = fusedoptim.AdamW(resumed, **hp)
    b.load_state_dict(sd)
    for g in grads[5:]:
        b.step([column.device(x) for x in g])
    for x, y in zip(straight, resumed):
        assert _bits(column.host(x)) == _bits(column.host(y))
    for key, value in all_state(opt).items():
        got = all_state(b)[key]
        if hasattr(value, "__cuda_array_interface__"):
            assert _bits(column.host(got)) == _bits(column.host(value)), key
        else:
            assert np.all(got == value), key


def test_bad_16_bit_device_input_is_refused_before_any_change(column):
    dtype = F16
    rng = np.random.default_rng(9)
    host = _make(rng, [(50,), (3, 4)], dtype)
    params = [column.device(p) for p in host]
    opt = fusedoptim.Adam(params, lr=0.1)
    # a grad in another dtype than its param
    with pytest.raises(TypeError, match=r"grads\[1\].*does not match"):
        opt.step([column.device(host[0]), column.device(host[1].astype(np.float32))])
    # float64 state of a 16-bit param
    opt.step([column.device(g) for g in _make(rng, [(50,), (3, 4)], dtype)])
    snapshot = [column.host(p) for p in params]
    state = {k: column.host(v) for k, v in opt.state[0].items() if k != "step"}
    with pytest.raises(TypeError, match=r"exp_avg.*float64"):
        _backends.run([functional.adam_work(params[:1], [column.device(host[0])],
                                             [column.device(np.zeros(50))],
                                             [column.device(np.zeros(50))], None, 2, lr=0.1)])
    for p, s in zip(params, snapshot):
        assert _bits(column.host(p)) == _bits(s)
    for k, v in state.items():
        assert _bits(column.host(opt.state[0][k])) == _bits(v)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.5, float("inf")])
def test_16_bit_reductions_match_the_host(column, p):
    """Norms and finiteness of float16 / bfloat16 arrays mixed with float32 ones: the
    device reads them as the host does (to float32, exact) and adds in float64; 1e-13
    relative, as test_device_clip.py (only the order of float64 additions differs)."""
    rng = np.random.default_rng(24)
    dtypes = [F16, np.dtype(np.float32)] + ([] if column.name == "cuda" else [BF16])
    shapes = [(0,), (), (7,), (31, 33), (70001,), (3 * 65536 + 5,)]
    host = [np.asarray(3 * rng.standard_normal(s), np.float32).astype(dtypes[i % len(dtypes)])
            for i, s in enumerate(shapes)]
    dev = [column.device(a) for a in host]
    want, got = fusedoptim.global_norm(host, p), fusedoptim.global_norm(dev, p)
    if p == float("inf"):
        assert got == want
    else:
        assert got == pytest.approx(want, rel=1e-13)
    assert fusedoptim.all_finite(dev)
    host[4][17] = np.inf
    assert not fusedoptim.all_finite([column.device(a) for a in host])
