"""Bad inputs on the device path: rejected with a message naming the array and the
problem, before anything changes (params and state compared bit for bit)."""
import numpy as np
import pytest

import fusedoptim
from device_columns import FakeDeviceArray


def _setup(column, n=3, steps=2):
    rng = np.random.default_rng(11)
    host = [rng.standard_normal((4, 5)) for _ in range(n)]
    params = [column.device(p) for p in host]
    opt = fusedoptim.Adam(params, lr=0.01)
    for _ in range(steps):  # state exists and the plan is in place
        opt.step([column.device(rng.standard_normal((4, 5))) for _ in range(n)])
    return opt, params


def _snapshot(column, opt, params):
    state = {(i, k): column.host(v) for i in opt.state for k, v in opt.state[i].items()
             if k != "step"}
    return [column.host(p) for p in params], state, [opt.state[i]["step"] for i in opt.state]


def _assert_unchanged(column, opt, params, snap):
    now = _snapshot(column, opt, params)
    for a, b in zip(now[0], snap[0]):
        np.testing.assert_array_equal(a, b)
    assert now[1].keys() == snap[1].keys()
    for k in snap[1]:
        np.testing.assert_array_equal(now[1][k], snap[1][k])
    assert now[2] == snap[2]


def _grads(column, n=3, shape=(4, 5)):
    rng = np.random.default_rng(12)
    return [column.device(rng.standard_normal(shape)) for _ in range(n)]


def test_host_grad_among_device_params(column):
    opt, params = _setup(column)
    snap = _snapshot(column, opt, params)
    grads = _grads(column)
    grads[1] = np.ones((4, 5))
    with pytest.raises(TypeError, match=r"grads\[1\]: a host \(NumPy\) array among CUDA device"):
        opt.step(grads)
    _assert_unchanged(column, opt, params, snap)


def test_device_grad_among_host_params(column):
    params = [np.ones((4, 5)), np.ones(3)]
    opt = fusedoptim.SGD(params, lr=0.1)
    with pytest.raises(TypeError, match=r"grads\[0\]: .* is a CUDA device array, but this call runs on host"):
        opt.step([column.device(np.ones((4, 5))), np.ones(3)])
    np.testing.assert_array_equal(params[0], 1.0)
    np.testing.assert_array_equal(params[1], 1.0)


def test_mixed_params_rejected_at_construction(column):
    with pytest.raises(TypeError, match=r"params\[1\]: a host \(NumPy\) array"):
        fusedoptim.Adam([column.device(np.ones(3)), np.ones(3)])
    opt = fusedoptim.Adam([column.device(np.ones(3))])
    with pytest.raises(TypeError, match=r"params\[1\]: a host \(NumPy\) array"):
        opt.add_param_group({"params": [np.ones(2)]})


def test_non_contiguous_device_param(column):
    base = column.device(np.arange(20.0).reshape(4, 5))
    with pytest.raises(ValueError, match=r"params\[0\]: array is not C-contiguous.*"
                                         r"cupy.ascontiguousarray"):
        fusedoptim.SGD([base[:, ::2]], lr=0.1)


def test_non_contiguous_device_grad(column):
    opt, params = _setup(column)
    snap = _snapshot(column, opt, params)
    grads = _grads(column)
    wide = column.device(np.ones((4, 10)))
    grads[2] = wide[:, ::2]
    with pytest.raises(ValueError, match=r"grads\[2\]: array is not C-contiguous"):
        opt.step(grads)
    _assert_unchanged(column, opt, params, snap)


def test_wrong_dtype_and_shape(column):
    opt, params = _setup(column)
    snap = _snapshot(column, opt, params)
    grads = _grads(column)
    grads[0] = column.device(np.ones((4, 5), np.float32))
    with pytest.raises(TypeError, match=r"grads\[0\]: dtype float32 does not match its param's "
                                        r"dtype float64"):
        opt.step(grads)
    grads = _grads(column)
    grads[2] = column.device(np.ones((5, 4)))
    with pytest.raises(ValueError, match=r"grads\[2\]: shape \(5, 4\) does not match"):
        opt.step(grads)
    _assert_unchanged(column, opt, params, snap)


def test_unsupported_dtype(column):
    with pytest.raises(TypeError, match=r"params\[0\]: dtype int64 is not supported"):
        fusedoptim.SGD([column.device(np.ones(3, np.int64))], lr=0.1)


def test_grad_sharing_memory_with_a_param(column):
    opt, params = _setup(column)
    snap = _snapshot(column, opt, params)
    grads = _grads(column)
    grads[0] = params[1]
    with pytest.raises(ValueError, match=r"grads\[0\] shares memory with params\[1\]"):
        opt.step(grads)
    _assert_unchanged(column, opt, params, snap)


def test_two_devices(column):
    if column.devices() < 2:
        pytest.skip("one CUDA device")
    with pytest.raises(ValueError, match=r"params\[1\]: on CUDA device 1 but params\[0\] is on "
                                         r"device 0"):
        fusedoptim.Adam([column.device(np.ones(3)), column.device(np.ones(3), device=1)])
    opt, params = _setup(column)
    snap = _snapshot(column, opt, params)
    grads = _grads(column)
    grads[1] = column.device(np.ones((4, 5)), device=1)
    with pytest.raises(ValueError, match=r"grads\[1\]: on CUDA device 1 but its param is on "
                                         r"device 0"):
        opt.step(grads)
    _assert_unchanged(column, opt, params, snap)


def test_read_only_device_param():
    from device_columns import Column
    col = Column("emulated")
    col.setup()
    try:
        with pytest.raises(ValueError, match=r"params\[0\]: array is read-only"):
            fusedoptim.SGD([FakeDeviceArray(np.ones(3), readonly=True)], lr=0.1)
    finally:
        from fusedoptim import _backends
        _backends.set_device_module(None)


def test_state_of_another_kind_rejected(column):
    opt, params = _setup(column)
    kept = opt.state[0]["exp_avg"]
    snap = _snapshot(column, opt, params)
    with pytest.raises(ValueError, match=r"exp_avg: expected a C-contiguous"):
        opt.state[0]["exp_avg"] = np.zeros((4, 5))
    assert opt.state[0]["exp_avg"] is kept
    _assert_unchanged(column, opt, params, snap)


def test_reference_optimizers_refuse_device_arrays(column):
    p = column.device(np.ones(3))
    opt = fusedoptim.reference.Adam([p])
    with pytest.raises(TypeError, match="NumPy arrays only"):
        opt.step([column.device(np.ones(3))])
    np.testing.assert_array_equal(column.host(p), 1.0)
    assert len(opt.state) == 0


def test_host_only_functions_name_device_arrays(column):
    """The second-order methods and the losses run on NumPy arrays only."""
    x = column.device(np.ones(4))
    for call in (lambda: fusedoptim.LBFGS([x]), lambda: fusedoptim.Newton([x]),
                 lambda: fusedoptim.DiagonalNewton([x])):
        with pytest.raises(TypeError, match=r"\[0\]: .* is a CUDA device array, but this call "
                                            r"runs on host \(NumPy\) arrays"):
            call()


def test_torch_cpu_tensors_are_host_objects_not_device_arrays():
    """Every torch.Tensor type has __cuda_array_interface__; a CPU tensor must still be
    refused as a non-NumPy host object, not taken for a device array."""
    torch = pytest.importorskip("torch")
    from fusedoptim import _backends

    t = torch.zeros(3)
    assert not _backends.is_device_array(t)
    with pytest.raises(TypeError, match=r"params\[0\]: expected a numpy.ndarray, got Tensor"):
        fusedoptim.Adam([t])
    opt = fusedoptim.SGD([np.ones(3)], lr=0.1)
    with pytest.raises(TypeError, match=r"grads\[0\]: expected a numpy.ndarray, got Tensor"):
        opt.step([t])
