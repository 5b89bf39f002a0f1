"""Adafactor: against torch.optim.Adafactor over 100+ steps for every option and shape
kind, the NumPy twin, thread counts (bitwise), state_dict (ours and torch's), bad input.

Tolerances against torch (measured, with margin): float64 rtol 1e-11 of each array's
scale (sums in a different order: norms and row/column means); float32 rtol 2e-5
(the row/column means and norms are float64 here, float32 in torch)."""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import functional as F
from registry import assert_close, assert_unchanged, snapshot

torch = pytest.importorskip("torch")

SHAPES = [(), (1,), (7,), (5, 9), (9, 5), (3, 4, 6), (8, 4, 3, 3), (8, 4, 1, 1), (40, 1000)]
OPTIONS = [
    dict(),                                                       # eps1 None, rho = lr
    dict(lr=0.5),                                                 # rho = 1/sqrt(t) from t = 5
    dict(lr=0.02, eps=(1e-4, 1e-2), d=1.5, beta2_decay=-0.6),
    dict(lr=0.05, weight_decay=0.2, maximize=True),
]
RTOL = {np.float64: 1e-11, np.float32: 2e-5}


def _run_both(kw, dtype, steps, seed=3, shapes=SHAPES):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt = fusedoptim.Adafactor(params, **kw)
    topt = torch.optim.Adafactor(tparams, **kw)
    for _ in range(steps):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g)
        topt.step()
        opt.step(grads)
    return params, tparams, opt, topt


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("kw", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_matches_torch_over_120_steps(kw, dtype):
    params, tparams, opt, topt = _run_both(kw, dtype, 120)
    for i, (p, tp) in enumerate(zip(params, tparams)):
        assert_close(p, tp.detach().numpy(), RTOL[dtype], err_msg=f"param {i}")
        tstate = topt.state[tp]
        assert list(opt.state[i]) == list(tstate)
        for key, value in tstate.items():
            if key == "step":
                assert opt.state[i]["step"] == int(value.item()) == 120
            else:
                assert opt.state[i][key].shape == tuple(value.shape), key
                assert opt.state[i][key].dtype == dtype, key
                assert_close(opt.state[i][key], value.numpy(), RTOL[dtype],
                             err_msg=f"state[{i}][{key!r}]")


def test_both_rho_branches_are_taken():
    """lr=0.5: rho = lr for t < 4, 1/sqrt(t) after; the default lr never reaches 1/sqrt(t)."""
    s = [F.adafactor_scalars(t, 0.5, -0.8, None, 1e-3, 1.0, 0.0) for t in (1, 16)]
    names = fusedoptim._native.SPECS["adafactor"]["scalars"]
    rho = [dict(zip(names, x))["rho"] for x in s]
    assert rho == [0.5, 0.25]


def test_native_matches_its_numpy_twin():
    rng = np.random.default_rng(5)
    shapes = SHAPES + [(3, 200, 300), (2, 1, 70000)]
    params = [rng.standard_normal(s) for s in shapes]
    copies = [p.copy() for p in params]
    opt = fusedoptim.Adafactor(params, lr=0.3, weight_decay=0.1)
    ref = fusedoptim.reference.Adafactor(copies, lr=0.3, weight_decay=0.1)
    for _ in range(15):
        grads = [rng.standard_normal(s) for s in shapes]
        opt.step(grads)
        ref.step(grads)
    for i, (a, b) in enumerate(zip(params, copies)):
        assert_close(a, b, 1e-12, err_msg=f"param {i}")
        for k in opt.state[i]:
            if k != "step":
                assert_close(opt.state[i][k], ref.state[i][k], 1e-12, err_msg=f"{i} {k}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_identical_for_any_thread_count(dtype):
    """Large matrices cut into row blocks (column partials combined across blocks), many
    small matrices per unit, long vectors: the same bits on 1, 2 and 3 threads."""
    shapes = [(1000, 2048), (64, 64, 3, 3), (256, 128, 1, 1), (300001,), (4, 700, 90)]
    results = []
    before = fusedoptim.get_num_threads()
    try:
        for threads in (1, 2, 3):
            fusedoptim.set_num_threads(threads)
            rng = np.random.default_rng(9)
            params = [rng.standard_normal(s).astype(dtype) for s in shapes]
            opt = fusedoptim.Adafactor(params, lr=0.1, weight_decay=0.01)
            for _ in range(3):
                opt.step([rng.standard_normal(s).astype(dtype) for s in shapes])
            results.append((params, {k: v.copy() for i in opt.state for k, v in
                                     ((f"{i}{n}", opt.state[i][n]) for n in opt.state[i]
                                      if n != "step")}))
    finally:
        fusedoptim.set_num_threads(before)
    for params, state in results[1:]:
        for a, b in zip(params, results[0][0]):
            assert a.tobytes() == b.tobytes()
        for k in state:
            assert state[k].tobytes() == results[0][1][k].tobytes(), k


def test_state_dict_round_trip_and_torch_state_dict():
    params, tparams, opt, topt = _run_both(dict(lr=0.1), np.float64, 5)
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(p.shape) for p in params]
    # ours -> a fresh optimizer
    copies = [p.copy() for p in params]
    opt2 = fusedoptim.Adafactor(copies, lr=0.1)
    opt2.load_state_dict(opt.state_dict())
    # torch's -> a fresh optimizer
    copies3 = [tp.detach().numpy().copy() for tp in tparams]
    opt3 = fusedoptim.Adafactor(copies3, lr=0.1)
    tsd = topt.state_dict()
    opt3.load_state_dict({"state": {k: {n: (v.numpy() if hasattr(v, "numpy") else v)
                                        for n, v in st.items()} for k, st in tsd["state"].items()},
                          "param_groups": [{k: v for k, v in g.items() if k != "foreach"}
                                           for g in tsd["param_groups"]]})
    opt.step(grads)
    opt2.step(grads)
    opt3.step(grads)
    for a, b, c in zip(params, copies, copies3):
        np.testing.assert_array_equal(a, b)
        assert_close(c, a, 1e-11)


@pytest.mark.parametrize("eps", [(1e-3,), (None, None), (None, -1.0), (-1.0, 1e-3), "ab", None])
def test_bad_eps_raises_before_anything_changes(eps):
    p = [np.ones((3, 4)), np.ones(5)]
    opt = fusedoptim.Adafactor(p)
    opt.step([np.ones((3, 4)), np.ones(5)])
    snap = snapshot(opt)
    with pytest.raises((TypeError, ValueError), match="eps"):
        fusedoptim.Adafactor(p, eps=eps)
    opt.param_groups[0]["eps"] = eps
    with pytest.raises((TypeError, ValueError), match="eps"):
        opt.step([np.ones((3, 4)), np.ones(5)])
    assert_unchanged(opt, snap)


@pytest.mark.parametrize("kw,match", [(dict(lr=-1.0), "lr"), (dict(beta2_decay=0.1), "beta2_decay"),
                                      (dict(d=0.5), "d"), (dict(weight_decay=-1.0), "weight_decay"),
                                      (dict(maximize=2), "maximize")])
def test_bad_hyperparameters_name_their_keyword(kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        fusedoptim.Adafactor([np.ones(3)], **kw)


def test_bad_arrays_raise_before_anything_changes():
    params = [np.ones((4, 6)), np.ones(5), np.ones((2, 3, 4))]
    opt = fusedoptim.Adafactor(params)
    opt.step([np.ones((4, 6)), np.ones(5), np.ones((2, 3, 4))])
    snap = snapshot(opt)
    good = [np.ones((4, 6)), np.ones(5), np.ones((2, 3, 4))]
    for bad, match in [
        ([good[0], good[1], np.ones((2, 3, 4), np.float32)], r"grads\[2\].*dtype"),
        ([good[0], good[1], np.ones((2, 4, 3))], r"grads\[2\].*shape"),
        ([np.ones((6, 4)).T, good[1], good[2]], r"grads\[0\].*contiguous"),
        ([params[0], good[1], good[2]], r"grads\[0\].*shares memory"),
    ]:
        with pytest.raises((TypeError, ValueError), match=match):
            opt.step(bad)
        assert_unchanged(opt, snap)
    # state arrays are set by their own shape (row_var: shape[:-1] + (1,)), not the param's
    opt.state[2]["row_var"] = opt.state[2]["row_var"].copy()
    with pytest.raises(ValueError, match="row_var.*shape"):
        opt.state[2]["row_var"] = np.zeros((2, 4, 1))
    assert_unchanged(opt, snap)
    # the functional entry: a state array of the wrong shape, found before any pass runs
    ps, gs = [p.copy() for p in params], [g.copy() for g in good]
    rows = [opt.state[0]["row_var"].copy(), None, np.zeros((2, 4, 1))]
    cols = [opt.state[0]["col_var"].copy(), None, opt.state[2]["col_var"].copy()]
    before = [p.copy() for p in ps] + [r.copy() for r in rows if r is not None]
    with pytest.raises(ValueError, match=r"row_vars\[2\].*expected \(2, 3, 1\)"):
        F.adafactor(ps, gs, rows, cols, [None, np.zeros(5), None], 2)
    with pytest.raises(ValueError, match=r"variances\[0\].*expected None"):
        F.adafactor(ps, gs, rows, cols, [np.zeros((4, 6)), np.zeros(5), None], 2)
    for a, b in zip(ps + [r for r in rows if r is not None], before):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_rejects_wrong_state_shapes_and_names():
    params = [np.ones((4, 6)), np.ones(5)]
    opt = fusedoptim.Adafactor(params)
    opt.step([np.ones((4, 6)), np.ones(5)])
    sd = opt.state_dict()
    snap = snapshot(opt)
    bad = {"state": {0: {**sd["state"][0], "row_var": np.zeros((4, 6))}, 1: sd["state"][1]},
           "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match=r"\[0\]\['row_var'\].*shape \(4, 1\)"):
        opt.load_state_dict(bad)
    bad = {"state": {0: {"step": 1, "variance": np.zeros((4, 6))}, 1: sd["state"][1]},
           "param_groups": sd["param_groups"]}
    with pytest.raises(ValueError, match="keeps row_var and col_var"):
        opt.load_state_dict(bad)
    assert_unchanged(opt, snap)


def test_device_arrays_are_refused_with_a_clear_error():
    class Fake:  # anything with __cuda_array_interface__ is a device array
        __cuda_array_interface__ = {"shape": (3,), "typestr": "<f4", "data": (0, False),
                                    "version": 3}
    with pytest.raises((NotImplementedError, TypeError, ValueError, RuntimeError)):
        F.adafactor([Fake()], [Fake()], [None], [None], [Fake()], 1)
