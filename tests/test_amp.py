"""Loss scaling: ``step(grads, grad_scale=..., found_inf=...)`` on every optimizer, and
fusedoptim.amp.GradScaler against torch.amp.GradScaler.

Tolerances: a step with ``grad_scale=S`` must equal, bit for bit, the step given the
grads ``(S*g) / S`` computed in NumPy in the params' dtype: the kernels divide each grad
by S in that dtype and then run the same formula (the multi-pass optimizers and the
reference read such copies). Against torch, the conformance tolerances of
test_torch_conformance.py (float32: rtol 2e-5 of each array's scale).
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import fusedoptim
from fusedoptim import amp

try:
    import torch
except ImportError:  # the torch comparisons skip; everything else runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs torch (the test extra)")
from registry import (CONFIGS, IDS, SMALL_SHAPES, all_state, assert_close, assert_unchanged,
                      make_grads, make_params, shapes_for, snapshot)

# a tensor big enough for several chunks and threads (kChunkElems = 2^15)
SHAPES = SMALL_SHAPES + [(70_001,)]


def _scaled(grads, s):
    return [np.asarray(g * g.dtype.type(s)) for g in grads]  # 0-d stays an array


def _divided(grads, s):
    return [np.asarray(g / g.dtype.type(s)) for g in grads]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_grad_scale_divides_the_grads_in_the_kernel(cfg, dtype):
    """Every step (the first through the general path, the rest through the reused plan)
    with its own scale, some not powers of two: bitwise the step on (S*g) / S."""
    name, kw = cfg
    rng = np.random.default_rng(11)
    params = make_params(rng, shapes_for(name, SHAPES), dtype)
    ours, twin = [p.copy() for p in params], [p.copy() for p in params]
    a = getattr(fusedoptim, name)(ours, **kw)
    b = getattr(fusedoptim, name)(twin, **kw)
    for t, s in enumerate([3.0, 1024.0, 0.7, 3.0, 65536.0]):
        grads = _scaled(make_grads(rng, params), s)
        before = [g.copy() for g in grads]
        a.step(grads, grad_scale=s)
        b.step(_divided(grads, s))
        for g, g0 in zip(grads, before):
            np.testing.assert_array_equal(g, g0)  # grads are only read
        for i, (x, y) in enumerate(zip(ours, twin)):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t}, param {i}")
    sa, sb = all_state(a), all_state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=str(k))


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("name, kw", [("Adam", dict(lr=0.01)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                      ("LAMB", dict(state_dtype=np.float32))])
def test_grad_scale_on_16_bit_grads(name, kw, dtype):
    """16-bit grads: unscaled in float32 registers (a power of two) or out of copies (any
    other scale, rounded to the dtype as torch's g / scale is): bitwise the step on those
    grads."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    dt = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(np.float16)
    rng = np.random.default_rng(25)
    params = [p.astype(dt) for p in make_params(rng, SHAPES, np.float32)]
    ours, twin = [p.copy() for p in params], [p.copy() for p in params]
    a, b = getattr(fusedoptim, name)(ours, **kw), getattr(fusedoptim, name)(twin, **kw)
    for s in (1024.0, 3.0, 0.25):
        grads = [np.asarray(g * np.float32(s)).astype(dt)
                 for g in make_grads(rng, make_params(rng, SHAPES, np.float32))]
        a.step(grads, grad_scale=s)
        # a power of two: exact in float32 and in the 16-bit dtype alike
        b.step([np.asarray(g.astype(np.float32) / np.float32(s)).astype(dt) for g in grads])
        for x, y in zip(ours, twin):
            np.testing.assert_array_equal(x.view(np.uint16), y.view(np.uint16))


def test_a_power_of_two_scale_gives_the_unscaled_step():
    rng = np.random.default_rng(12)
    params = make_params(rng, SHAPES, np.float32)
    ours, twin = [p.copy() for p in params], [p.copy() for p in params]
    a, b = fusedoptim.Adam(ours, lr=0.01), fusedoptim.Adam(twin, lr=0.01)
    for _ in range(4):
        grads = make_grads(rng, params)
        a.step(_scaled(grads, 2.0**16), grad_scale=2.0**16)
        b.step(grads)
    for x, y in zip(ours, twin):
        np.testing.assert_array_equal(x, y)


def test_the_reference_takes_grad_scale_too():
    """The NumPy twin divides a copy of the grads: the same as giving it (S*g) / S."""
    rng = np.random.default_rng(13)
    params = make_params(rng, SMALL_SHAPES, np.float64)
    ours, twin = [p.copy() for p in params], [p.copy() for p in params]
    a = fusedoptim.reference.Adam(ours, lr=0.01)
    b = fusedoptim.reference.Adam(twin, lr=0.01)
    for s in (3.0, 0.3):
        grads = _scaled(make_grads(rng, params), s)
        a.step(grads, grad_scale=s)
        b.step(_divided(grads, s))
    for x, y in zip(ours, twin):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_found_inf_changes_nothing(cfg):
    """A skipped step leaves params, state, step counts and the count a callable lr sees
    as they were: the run goes on exactly as if the step had never been asked for."""
    name, kw = cfg
    rng = np.random.default_rng(14)
    params = make_params(rng, shapes_for(name, SMALL_SHAPES), np.float32)
    kw = dict(kw)
    base_lr = kw.pop("lr", 0.01)
    ours, twin = [p.copy() for p in params], [p.copy() for p in params]
    a = getattr(fusedoptim, name)(ours, lr=lambda k: base_lr / (1 + k), **kw)
    b = getattr(fusedoptim, name)(twin, lr=lambda k: base_lr / (1 + k), **kw)
    bad = make_grads(rng, params)
    bad[-1].reshape(-1)[0] = np.inf
    snap = snapshot(a)
    a.step(bad, found_inf=True)  # before the first step: no state is created
    assert_unchanged(a, snap)
    for t in range(4):
        grads = make_grads(rng, params)
        a.step(grads)
        b.step(grads)
        snap = snapshot(a)
        sd = a.state_dict()
        a.step(bad, found_inf=np.array([1.0], np.float32), grad_scale=8.0)
        assert_unchanged(a, snap)
        assert a.state_dict()["group_updates"] == sd["group_updates"]
    for x, y in zip(ours, twin):
        np.testing.assert_array_equal(x, y)


def test_found_inf_false_steps_and_grads_are_still_checked():
    rng = np.random.default_rng(15)
    params = make_params(rng, SMALL_SHAPES, np.float64)
    opt = fusedoptim.SGD(params, lr=0.1, momentum=0.9)
    opt.step(make_grads(rng, params))
    snap = snapshot(opt)
    wrong = make_grads(rng, params)
    wrong[3] = np.ones((8,))
    with pytest.raises(ValueError, match="grads"):
        opt.step(wrong, found_inf=True)
    assert_unchanged(opt, snap)
    before = [p.copy() for p in params]
    opt.step(make_grads(rng, params), found_inf=False)
    assert any(not np.array_equal(p, q) for p, q in zip(params, before))


@pytest.mark.parametrize("value", [0, -1.0, np.inf, np.nan, np.array([0.0])])
def test_bad_grad_scale_is_refused_before_anything_changes(value):
    rng = np.random.default_rng(16)
    params = make_params(rng, SMALL_SHAPES, np.float32)
    opt = fusedoptim.Adam(params)
    opt.step(make_grads(rng, params))
    snap = snapshot(opt)
    with pytest.raises(ValueError, match="grad_scale"):
        opt.step(make_grads(rng, params), grad_scale=value)
    assert_unchanged(opt, snap)


@pytest.mark.parametrize("value", ["2", True, [2.0], None.__class__])
def test_grad_scale_of_the_wrong_type_is_a_type_error(value):
    params = [np.ones(3, np.float32)]
    with pytest.raises(TypeError, match="grad_scale"):
        fusedoptim.SGD(params, lr=0.1).step([np.ones(3, np.float32)], grad_scale=value)


@pytest.mark.parametrize("value", [2, 0.5, "yes", np.array([1.0, 0.0]), -1])
def test_bad_found_inf_is_refused(value):
    params = [np.ones(3, np.float32)]
    opt = fusedoptim.SGD(params, lr=0.1)
    with pytest.raises(ValueError, match="found_inf"):
        opt.step([np.ones(3, np.float32)], found_inf=value)
    np.testing.assert_array_equal(params[0], 1.0)


@pytest.mark.parametrize("value", [np.float32(4.0), np.array(4.0), np.array([4.0], np.float32), 4])
def test_grad_scale_accepts_numpy_scalars_and_one_element_arrays(value):
    rng = np.random.default_rng(17)
    params = make_params(rng, [(10,)], np.float32)
    ours, twin = [p.copy() for p in params], [p.copy() for p in params]
    grads = make_grads(rng, params)
    fusedoptim.SGD(ours, lr=0.1).step(_scaled(grads, 4.0), grad_scale=value)
    fusedoptim.SGD(twin, lr=0.1).step(grads)
    np.testing.assert_array_equal(ours[0], twin[0])


# ----------------------------------------------------------------------- torch

TORCH_FUSED = [
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)),
]


@needs_torch
@pytest.mark.parametrize("cfg", TORCH_FUSED, ids=[f"{n}-{k}" for n, k in TORCH_FUSED])
def test_matches_torch_fused_with_grad_scale_and_found_inf(cfg):
    """torch's fused CPU kernels take grad_scale and found_inf as the optimizer's
    attributes (GradScaler sets them): the same scales and skips give the same params."""
    name, kw = cfg
    rng = np.random.default_rng(18)
    params = make_params(rng, [(31, 33), (7,), (70_001,)], np.float32)
    ours = [p.copy() for p in params]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = getattr(fusedoptim, name)(ours, **kw)
    topt = getattr(torch.optim, name)(tparams, fused=True, **kw)
    for t in range(12):
        s = [3.0, 1024.0, 0.7][t % 3]
        skip = t in (4, 9)
        grads = _scaled(make_grads(rng, params), s)
        if skip:
            grads[0][0, 0] = np.inf
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g.copy())
        topt.grad_scale = torch.tensor(s, dtype=torch.float32)
        topt.found_inf = torch.tensor(1.0 if skip else 0.0, dtype=torch.float32)
        topt.step()
        opt.step(grads, grad_scale=s, found_inf=skip)
        for i, (p, tp) in enumerate(zip(ours, tparams)):
            assert_close(p, tp.detach().numpy(), 2e-5, err_msg=f"step {t}, param {i}")


def _torch_run(steps, grads_at, scaler_kw, clip):
    """torch.amp.GradScaler("cpu") with torch.optim.SGD: the scales and the params."""
    params = [torch.tensor(p.copy(), requires_grad=True) for p in steps["params"]]
    opt = torch.optim.SGD(params, lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", **scaler_kw)
    scales = []
    for t in range(steps["n"]):
        s = scaler.scale(torch.tensor(1.0)).item()  # the scale the loss was multiplied by
        for p, g in zip(params, grads_at(t, s)):
            p.grad = torch.tensor(g)
        if clip:
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(params, 5.0)
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, [p.detach().numpy() for p in params], scaler.state_dict()


@needs_torch
@pytest.mark.parametrize("clip", [False, True])
def test_grad_scaler_follows_torch(clip):
    """The same grads (scaled by each side's current scale, with inf and NaN injected on
    some steps and overflow on others): the same scale sequence, exactly, and the same
    params."""
    rng = np.random.default_rng(19)
    shapes = [(31, 33), (7,), (5000,)]
    params = make_params(rng, shapes, np.float32)
    n = 60
    true_grads = [make_grads(rng, params) for _ in range(n)]
    poison = {5: np.inf, 6: np.nan, 17: -np.inf, 31: np.nan}
    true_grads[44][2][9] = 1e36  # finite, but times the scale beyond float32: inf

    def grads_at(t, s):
        with np.errstate(over="ignore"):
            out = [(g.astype(np.float64) * s).astype(np.float32) for g in true_grads[t]]
        if t in poison:
            flat = out[t % 3].reshape(-1)
            flat[t % flat.size] = poison[t]
        return out

    scaler_kw = dict(init_scale=2.0**10, growth_factor=2.0, backoff_factor=0.25,
                     growth_interval=4)
    t_scales, t_params, t_sd = _torch_run({"params": params, "n": n}, grads_at, scaler_kw, clip)

    ours = [p.copy() for p in params]
    opt = fusedoptim.SGD(ours, lr=0.05, momentum=0.9)
    scaler = amp.GradScaler(**scaler_kw)
    scales = []
    for t in range(n):
        grads = grads_at(t, scaler.scale(1.0))
        if clip:
            scaler.unscale_(opt, grads)
            fusedoptim.clip_grad_norm_(grads, 5.0)
        scaler.step(opt, grads)
        scaler.update()
        scales.append(scaler.get_scale())
    assert scales == t_scales
    assert len(set(scales)) > 3  # it grew and backed off
    assert scaler.state_dict() == t_sd
    for i, (p, tp) in enumerate(zip(ours, t_params)):
        assert_close(p, tp, 2e-5, err_msg=f"param {i}")


def test_grad_scaler_without_unscale_leaves_the_grads_alone():
    rng = np.random.default_rng(20)
    params = make_params(rng, [(100,)], np.float32)
    opt = fusedoptim.Adam(params)
    scaler = amp.GradScaler(init_scale=8.0)
    grads = _scaled(make_grads(rng, params), 8.0)
    before = [g.copy() for g in grads]
    scaler.step(opt, grads)
    np.testing.assert_array_equal(grads[0], before[0])


def test_unscale_multiplies_in_place_and_records_inf():
    rng = np.random.default_rng(21)
    params = make_params(rng, [(10,), (4, 4)], np.float64)
    grads = make_grads(rng, params)
    expect = [g * np.float64(np.float32(1 / 2.0**16)) for g in grads]
    grads[1][2, 2] = np.nan
    expect[1][2, 2] = np.nan
    opt = fusedoptim.SGD(params, lr=0.1)
    before = [p.copy() for p in params]
    scaler = amp.GradScaler()
    scaler.unscale_(opt, grads)
    for g, e in zip(grads, expect):
        np.testing.assert_array_equal(g, e)
    scaler.step(opt, grads)  # skipped: NaN found by unscale_
    for p, q in zip(params, before):
        np.testing.assert_array_equal(p, q)
    scaler.update()
    assert scaler.get_scale() == 2.0**15


def test_grad_scaler_call_order_is_enforced():
    params = [np.ones(4, np.float32)]
    opt = fusedoptim.SGD(params, lr=0.1)
    scaler = amp.GradScaler()
    grads = [np.ones(4, np.float32)]
    with pytest.raises(RuntimeError, match="No inf checks"):
        scaler.update()
    scaler.unscale_(opt, grads)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt, grads)
    scaler.step(opt, grads)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.step(opt, grads)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt, grads)
    scaler.update()
    scaler.step(opt, grads)  # a new iteration


def test_unscale_refuses_read_only_grads_before_changing_any():
    params = [np.ones(4, np.float32), np.ones(3, np.float32)]
    opt = fusedoptim.SGD(params, lr=0.1)
    grads = [np.full(4, 8.0, np.float32), np.full(3, 8.0, np.float32)]
    grads[1].setflags(write=False)
    scaler = amp.GradScaler(init_scale=8.0)
    with pytest.raises(ValueError, match="writeable|read-only"):
        scaler.unscale_(opt, grads)
    np.testing.assert_array_equal(grads[0], 8.0)
    scaler.unscale_(opt, [np.full(4, 8.0, np.float32), np.full(3, 8.0, np.float32)])  # not stuck


def test_update_new_scale_and_growth_cap():
    scaler = amp.GradScaler(init_scale=3.0e38, growth_interval=1)
    opt = fusedoptim.SGD([np.ones(2, np.float32)], lr=0.1)
    scaler.step(opt, [np.ones(2, np.float32)])
    scaler.update()
    assert scaler.get_scale() == float(np.float32(3.0e38))  # growing would overflow: kept
    scaler.update(new_scale=128.0)
    assert scaler.get_scale() == 128.0
    with pytest.raises(ValueError, match="new_scale"):
        scaler.update(new_scale=0.0)


@needs_torch
def test_grad_scaler_state_dict_round_trip_and_torch_keys():
    scaler = amp.GradScaler(init_scale=512.0, growth_factor=4.0, backoff_factor=0.125,
                            growth_interval=7)
    opt = fusedoptim.SGD([np.ones(2, np.float32)], lr=0.1)
    for _ in range(3):
        scaler.step(opt, [np.ones(2, np.float32)])
        scaler.update()
    sd = scaler.state_dict()
    assert sd == {"scale": 512.0, "growth_factor": 4.0, "backoff_factor": 0.125,
                  "growth_interval": 7, "_growth_tracker": 3}
    other = amp.GradScaler()
    other.load_state_dict(copy.deepcopy(sd))
    assert other.state_dict() == sd
    tscaler = torch.amp.GradScaler("cpu", init_scale=512.0, growth_factor=4.0,
                                   backoff_factor=0.125, growth_interval=7)
    assert set(tscaler.state_dict()) == set(sd)
    tscaler.load_state_dict(sd)
    assert tscaler.state_dict() == sd
    bad = dict(sd, growth_factor=0.5)
    with pytest.raises(ValueError, match="growth_factor"):
        other.load_state_dict(bad)
    assert other.state_dict() == sd
    with pytest.raises(RuntimeError, match="empty"):
        other.load_state_dict({})


def test_disabled_grad_scaler_is_a_pass_through():
    rng = np.random.default_rng(22)
    params = make_params(rng, [(50,)], np.float32)
    ours, twin = [p.copy() for p in params], [p.copy() for p in params]
    scaler = amp.GradScaler(enabled=False)
    a, b = fusedoptim.Adam(ours), fusedoptim.Adam(twin)
    loss = np.float32(1.5)
    assert scaler.scale(loss) is loss
    grads = make_grads(rng, params)
    scaler.unscale_(a, grads)
    scaler.step(a, grads)
    scaler.update()
    b.step(grads)
    np.testing.assert_array_equal(ours[0], twin[0])
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    assert not scaler.is_enabled()


def test_scale_multiplies_numbers_arrays_and_lists():
    scaler = amp.GradScaler(init_scale=4.0)
    assert scaler.scale(1.5) == 6.0
    out = scaler.scale([np.float32(1.0), np.array([1.0, 2.0], np.float32)])
    assert isinstance(out, list) and out[0] == 4.0
    np.testing.assert_array_equal(out[1], [4.0, 8.0])
    assert out[1].dtype == np.float32
    with pytest.raises(TypeError, match="outputs"):
        scaler.scale("loss")


@pytest.mark.parametrize("kw, match", [
    (dict(init_scale=0.0), "init_scale"), (dict(init_scale=1e39), "init_scale"),
    (dict(growth_factor=1.0), "growth_factor"), (dict(backoff_factor=1.0), "backoff_factor"),
    (dict(backoff_factor=0.0), "backoff_factor"), (dict(growth_interval=0), "growth_interval"),
    (dict(growth_interval=2.5), "growth_interval")])
def test_grad_scaler_refuses_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        amp.GradScaler(**kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("s", [2.0**-130, 2.0**-126, 2.0**-3, 2.0**126, 2.0**127, 2.0**200,
                               1e-300, 3.0e38])
def test_extreme_scales_round_as_the_division(s, dtype):
    """Powers of two whose reciprocal is not a normal float32 (and other extremes) are
    divided out of copies; the rest on the fly. Either way g / S in the dtype, zeros,
    infs and NaNs included."""
    rng = np.random.default_rng(23)
    params = make_params(rng, [(1000,), ()], dtype)
    grads = make_grads(rng, params)
    grads[0][:4] = [0.0, -0.0, np.inf, np.nan]
    ours, twin = [p.copy() for p in params], [p.copy() for p in params]
    with np.errstate(all="ignore"):
        fusedoptim.SGD(ours, lr=0.1, momentum=0.5).step(grads, grad_scale=s)
        fusedoptim.SGD(twin, lr=0.1, momentum=0.5).step(_divided(grads, s))
    for x, y in zip(ours, twin):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("s", [3.0, 2.0**-127, 2.0**127, 0.0, np.inf])
def test_the_native_entry_takes_powers_of_two_only(s):
    p, g = np.ones(4, np.float32), np.ones(4, np.float32)
    work = fusedoptim.functional.sgd_work([p], [g], [None], lr=0.1, momentum=0.0, dampening=0.0,
                                          weight_decay=0.0, nesterov=False, maximize=False)
    with pytest.raises(ValueError, match="grad_scale"):
        fusedoptim._native.run([work], s)
    np.testing.assert_array_equal(p, 1.0)


@pytest.mark.parametrize("name", ["Adam", "SGD", "LAMB"])
def test_device_steps_take_grad_scale_and_found_inf(name, column):
    """The CUDA kernels (and their host emulation) unscale as the CPU kernels do, for a
    power-of-two scale (in the kernel), another scale (copies) and a skipped step; within
    test_device.py's float32 tolerance (1e-5: the two sides contract other FMAs)."""
    kw = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)
    rng = np.random.default_rng(24)
    init = make_params(rng, [(70_001,), (31, 33), ()], np.float32)
    cpu_params = [p.copy() for p in init]
    dev_params = [column.device(p) for p in init]
    cpu = getattr(fusedoptim, name)(cpu_params, **kw)
    dev = getattr(fusedoptim, name)(dev_params, **kw)
    for t, (s, skip) in enumerate([(1024.0, False), (1024.0, False), (3.0, False),
                                   (2.0**20, True), (0.5, False)]):
        grads = _scaled(make_grads(rng, init), s)
        cpu.step(grads, grad_scale=s, found_inf=skip)
        dev.step([column.device(g) for g in grads], grad_scale=s, found_inf=skip)
        for i, (a, b) in enumerate(zip(dev_params, cpu_params)):
            assert_close(column.host(a), b, 1e-5, err_msg=f"step {t}, param {i}")


def test_zero_redundancy_optimizer_refuses_loss_scaling():
    """ZeRO-1 would have to agree on skipping across ranks: it refuses by name (a one-rank
    run in a child process, so this process never initialises MPI)."""
    pytest.importorskip("mpi4py")
    import subprocess
    import sys
    code = ("import numpy as np, fusedoptim.distributed as d\n"
            "p = [np.ones(5)]\n"
            "opt = d.ZeroRedundancyOptimizer(p, lr=0.1)\n"
            "try:\n"
            "    opt.step([np.ones(5)], grad_scale=8.0)\n"
            "except NotImplementedError as e:\n"
            "    assert 'grad_scale' in str(e) and (p[0] == 1).all(); print('refused')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "refused" in out.stdout, out.stderr
