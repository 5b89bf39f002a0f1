"""The CUDA path (issue: optional CUDA build) against the CPU kernels, in two columns
(tests/device_columns.py): "cuda" on a real GPU with CuPy arrays, skipped without
one, and "emulated", the same device code (packing, chunks, vector and tail accesses,
the shared rules, the device bindings and the Python routing) run on the host.

Tolerances (registry.assert_close, relative to each array's largest magnitude):
float64 1e-12, float32 1e-5. The rules are the CPU's; results differ only by FMA
contraction (nvcc contracts a*b+c, so do the AVX2/AVX-512 paths, the scalar CPU
path and the emulator do not), a few ulp per step carried along by momentum. In
float32 that reaches 2.2e-6 on a 0-d centered-RMSprop average after 50 steps
(cancellation in the running mean), hence 1e-5 rather than 1e-6.
"""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import _backends, _native, functional
from device_columns import FakeDeviceArray, cpu_gpu_cpu
from registry import CONFIGS, HOST_ONLY, IDS, SMALL_SHAPES, all_state, assert_close, shapes_for

STEPS = 50
TOL = {np.float64: 1e-12, np.float32: 1e-5}
# Small and odd sizes, two chunks of a block with a tail (70001 = 65536 + 4465, 70001 % 4 = 1).
SHAPES = SMALL_SHAPES + [(70001,)]
UNALIGNED = {3, 6}  # these params live one element into their buffer: the scalar path


def _device_params(column, host_params):
    return [column.device(p, offset=1 if i in UNALIGNED else 0) for i, p in enumerate(host_params)]


def _run_both(column, name, kw, dtype, steps=STEPS, seed=7):
    rng = np.random.default_rng(seed)
    shapes = shapes_for(name, SHAPES)
    init = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]
    cpu_params = [p.copy() for p in init]
    cpu = getattr(fusedoptim, name)(cpu_params, **kw)
    dev_params = _device_params(column, init)
    dev = getattr(fusedoptim, name)(dev_params, **kw)
    for g in grads:
        cpu.step(g)
        dev.step([column.device(x) for x in g])  # new grad arrays every step, as in training
    return cpu, cpu_params, dev, dev_params


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_device_matches_cpu(cfg, dtype, column):
    name, kw = cfg
    if name in HOST_ONLY:
        pytest.skip(f"{name} has no CUDA path (test_host_only_optimizers_refuse_device_arrays)")
    cpu, cpu_params, dev, dev_params = _run_both(column, name, kw, dtype)
    assert dev._fast is not None or dev._multi_pass, "the device plan was not reused"
    for i, (a, b) in enumerate(zip(dev_params, cpu_params)):
        assert_close(column.host(a), b, TOL[dtype], err_msg=f"param {i}")
    cpu_state, dev_state = all_state(cpu), all_state(dev)
    assert dev_state.keys() == cpu_state.keys()
    for key, value in cpu_state.items():
        got = dev_state[key]
        if key[1] in cpu._scalar_state:  # 0-d numbers (NAdam's mu_product): host arrays
            assert type(got) is np.ndarray and got.shape == () and got.dtype == np.float32
            assert_close(got, value, TOL[dtype], err_msg=f"state {key}")
        elif isinstance(value, np.ndarray):
            assert type(got) is type(dev_params[0]), f"state {key} is not a device array"
            assert_close(column.host(got), value, TOL[dtype], err_msg=f"state {key}")
        else:
            assert got == value


@pytest.mark.parametrize("name", sorted(HOST_ONLY))
def test_host_only_optimizers_refuse_device_arrays(name, column):
    """An optimizer without a CUDA path says so at its first step and changes nothing."""
    rng = np.random.default_rng(4)
    host = [rng.standard_normal(s) for s in SMALL_SHAPES]
    params = [column.device(p) for p in host]
    opt = getattr(fusedoptim, name)(params)
    with pytest.raises(NotImplementedError, match="NumPy arrays only"):
        opt.step([column.device(rng.standard_normal(p.shape)) for p in host])
    for p, h in zip(params, host):
        np.testing.assert_array_equal(column.host(p), h)
    assert all(len(s) == 0 for s in opt.state.values())


def test_state_dict_moves_cpu_gpu_cpu(column):
    """10 steps on the CPU, 10 on the device, 10 on the CPU again == 30 on the CPU."""
    rng = np.random.default_rng(3)
    init = [rng.standard_normal(s) for s in [(5, 4), (70001,), ()]]
    grads = [[rng.standard_normal(p.shape) for p in init] for _ in range(30)]
    make = lambda ps: fusedoptim.Adam(ps, lr=0.01, amsgrad=True, weight_decay=0.1)  # noqa: E731
    straight, straight_params, opt2, back = cpu_gpu_cpu(column, make, init, grads, "exp_avg")
    for a, b in zip(back, straight_params):
        assert_close(a, b, 1e-12)
    for key, value in all_state(straight).items():
        got = all_state(opt2)[key]
        if isinstance(value, np.ndarray):
            assert_close(got, value, 1e-12, err_msg=str(key))
        else:
            assert got == value


def test_functional_on_device_arrays(column):
    rng = np.random.default_rng(5)
    shapes = [(3, 7), (1000,)]
    p, g = ([rng.standard_normal(s) for s in shapes] for _ in range(2))
    m, v = ([rng.random(s) for s in shapes] for _ in range(2))
    dp, dg, dm, dv = ([column.device(x) for x in xs] for xs in (p, g, m, v))
    kw = dict(lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0, amsgrad=False,
              maximize=False)
    functional.adam(p, g, m, v, None, 3, **kw)
    functional.adam(dp, dg, dm, dv, None, 3, **kw)
    for a, b in zip(dp + dm + dv, p + m + v):
        assert_close(column.host(a), b, 1e-12)


def test_momentum_buffers_created_on_device(column):
    rng = np.random.default_rng(6)
    p = rng.standard_normal((4, 5))
    g = rng.standard_normal((4, 5))
    dp = column.device(p)
    bufs = [None]
    functional.sgd([dp], [column.device(g)], bufs, lr=0.1, momentum=0.9)
    assert type(bufs[0]) is type(dp)
    np.testing.assert_allclose(column.host(bufs[0]), g, rtol=0, atol=0)
    np.testing.assert_allclose(column.host(dp), p - 0.1 * g, rtol=1e-15)


def test_cuda_info_in_build_info():
    info = fusedoptim.build_info()["cuda"]
    assert isinstance(info["built"], bool)
    if info["built"]:
        assert "80" in info["architectures"] and "90" in info["architectures"]
    else:
        assert "FUSEDOPTIM_CUDA=ON" in info["hint"]


def test_device_arrays_without_cuda_build_say_how_to_build(monkeypatch):
    monkeypatch.setenv("FUSEDOPTIM_DEVICE_MODULE", "_cuda")
    _backends.set_device_module(None)
    import importlib.util
    if importlib.util.find_spec("fusedoptim._cuda") is not None:
        pytest.skip("this build has the CUDA extension")
    with pytest.raises(RuntimeError, match="FUSEDOPTIM_CUDA=ON"):
        fusedoptim.Adam([FakeDeviceArray(np.ones(3))])


def test_bench_device_mode_runs_on_the_emulation():
    """`fusedoptim bench --device cuda`'s runner, with emulated device arrays: every
    GPU implementation that exists here is timed and the host-time table is filled, for
    every optimizer of the benchmark (the host-only Adafactor has no device rows)."""
    import importlib

    from fusedoptim.bench import report
    from fusedoptim.bench.device import DeviceTools
    from fusedoptim.bench.runner import Config, run
    from fusedoptim.bench.workloads import OPTIMIZERS

    _backends.set_device_module(importlib.import_module("fusedoptim._cuda_emulator"))
    try:
        tools = DeviceTools(lambda a: FakeDeviceArray(np.array(a, copy=True)), lambda: None,
                            "host emulation", torch_device=None)
        cfg = Config(device="cuda", optimizers=list(OPTIMIZERS), workloads=["mlp"],
                     threads=[1], implementations=["fusedoptim", "torch-fused", "roofline"],
                     repeats=2, scale=1e-3, sweep=False, overhead=False)
        result = run(cfg, progress=False, tools=tools)
    finally:
        _backends.set_device_module(None)
    assert result["device"] == "host emulation"
    on_device = [k for k in OPTIMIZERS if k != "adafactor"]
    impls = {(r["optimizer"], r["impl"]) for r in result["rows"]}
    assert impls == {(k, i) for k in on_device for i in ("fusedoptim", "roofline")}
    assert all(r["ms"] > 0 and r["roofline_fraction"] > 0 for r in result["rows"])
    assert {(r["optimizer"], r["impl"]) for r in result["host"]} == {(k, "fusedoptim")
                                                                      for k in on_device}
    assert "Host time per step call" in report.host_table(result["host"])
    assert "Device: host emulation" in report.markdown(result)


@pytest.mark.parametrize("clone", ["pickle", "deepcopy"])
def test_device_optimizer_copies_find_their_backend(clone):
    """A copy rebuilds its backend from its own params (emulated column: fake arrays
    pickle with their host memory)."""
    import copy
    import importlib
    import pickle

    _backends.set_device_module(importlib.import_module("fusedoptim._cuda_emulator"))
    try:
        rng = np.random.default_rng(8)
        host = rng.standard_normal((6, 3))
        g = [FakeDeviceArray(rng.standard_normal((6, 3)))]
        opt = fusedoptim.Adam([FakeDeviceArray(host.copy())], lr=0.1)
        opt.step(g)
        other = pickle.loads(pickle.dumps(opt)) if clone == "pickle" else copy.deepcopy(opt)
        assert other._backend.name == "cuda"
        opt.step(g)
        other.step(g)
        np.testing.assert_array_equal(other.param_groups[0]["params"][0].get(),
                                      opt.param_groups[0]["params"][0].get())
    finally:
        _backends.set_device_module(None)


def test_reference_optimizer_survives_pickle():
    import pickle

    p = np.ones(4)
    opt = pickle.loads(pickle.dumps(fusedoptim.reference.SGD([p], lr=0.5)))
    q = opt.param_groups[0]["params"][0]
    opt.step([np.ones(4)])
    np.testing.assert_array_equal(q, 0.5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_per_tensor_sums_span_chunks_and_launches(dtype, column):
    """LAMB's moments pass on the device: each tensor's sums gathered from its blocks
    (several chunks for the large ones, empty tensors with none, float32 and float64 in
    separate launches), in work order, as the host computes them. The chunks differ in
    size, so the additions come in another order (a relative 1e-12 in float64); in float32
    the host's SIMD build may fuse a multiply-add the emulator rounds twice, so u itself
    differs in its last bit here and there (1e-6 on the sums)."""
    rng = np.random.default_rng(21)
    shapes = [(150_001,), (0,), (7, 3), (70_000,)]
    host = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ms = [rng.standard_normal(s).astype(dtype) for s in shapes]
    vs = [rng.random(s).astype(dtype) for s in shapes]
    dev = [[column.device(a) for a in lst] for lst in (host, grads, ms, vs)]
    kw = dict(lr=0.01, weight_decay=0.1)
    want = _native.apply_sums([functional.lamb_work(host, grads, ms, vs, 3, **kw)])
    got = _backends.for_arrays(dev[0]).apply_sums([functional.lamb_work(*dev, 3, **kw)])
    assert got.shape == want.shape == (len(shapes), 2)
    np.testing.assert_allclose(got, want, rtol=1e-12 if dtype == np.float64 else 1e-6)
    assert got[1].tolist() == [0.0, 0.0]
    for a, b in zip(dev[2] + dev[3], ms + vs):  # the moments were updated alike
        assert_close(column.host(a), b, TOL[dtype])
