"""Second-order and quasi-Newton methods: Newton (dense and Hessian-free), DiagonalNewton,
LBFGS (same iterates as torch.optim.LBFGS), stopping info, damping, bad input."""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import LBFGS, DiagonalNewton, Newton

try:
    import torch
except ImportError:  # pragma: no cover
    torch = None
try:
    import scipy.optimize as scipy_optimize
except ImportError:  # pragma: no cover
    scipy_optimize = None


# ------------------------------------------------------------------ problems
def _split(x, params):
    """Copy a flat vector into the params (in order, C order)."""
    off = 0
    for p in params:
        p[...] = x[off:off + p.size].reshape(p.shape)
        off += p.size


def _flat(params):
    return np.concatenate([p.reshape(-1) for p in params])


def _unflat(v, params):
    out, off = [], 0
    for p in params:
        out.append(v[off:off + p.size].reshape(p.shape).astype(p.dtype))
        off += p.size
    return out


def _quadratic(n, cond, rng):
    """f(x) = 1/2 x^T A x - b^T x with eigenvalues from 1 to cond; minimizer A^-1 b."""
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (q * np.geomspace(1.0, cond, n)) @ q.T
    A = 0.5 * (A + A.T)
    b = rng.standard_normal(n)
    return A, b, np.linalg.solve(A, b)


def _quad_closure(params, A, b, hvp=False):
    def closure():
        x = _flat(params)
        g = A @ x - b
        H = (lambda v: A @ v) if hvp else A
        return 0.5 * x @ A @ x - b @ x, _unflat(g, params), H
    return closure


def _rosen(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def _rosen_grad(x):
    g = np.zeros_like(x)
    g[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    return g


ROSEN_STARTS = {"2d": np.array([-1.2, 1.0]), "10d": np.linspace(-1.2, 1.1, 10)}


def _rosen_params(x0):
    # several arrays of several shapes: the vector work spans all of them
    if x0.size == 2:
        return [x0[:1].copy(), x0[1:].copy()]
    return [x0[:4].copy(), x0[4:10].reshape(2, 3).copy()]


def _rosen_closure(params):
    def closure():
        x = _flat(params)
        return _rosen(x), _unflat(_rosen_grad(x), params)
    return closure


def _logistic(rng, n=400, d=5):
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-(X @ w_true + 0.3)))).astype(float)
    return X, y


def _logistic_closure(params, X, y, lam=1e-2):
    """Mean log-loss + lam/2 |w|^2 over params [w (d,), b (1,)]; dense Hessian."""
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    reg = np.r_[np.full(d, lam), 0.0]

    def closure():
        theta = _flat(params)
        z = Xb @ theta
        p = 1 / (1 + np.exp(-z))
        loss = np.mean(np.logaddexp(0, z) - y * z) + 0.5 * np.sum(reg * theta ** 2)
        g = Xb.T @ (p - y) / n + reg * theta
        H = (Xb * (p * (1 - p))[:, None]).T @ Xb / n + np.diag(reg)
        return loss, _unflat(g, params), H
    return closure


# ------------------------------------------------------------------ Newton
def test_newton_solves_a_quadratic_in_one_step():
    rng = np.random.default_rng(0)
    A, b, x_star = _quadratic(12, 1e3, rng)
    params = [np.zeros(5), np.zeros((3, 2)), np.zeros(1)]
    opt = Newton(params)
    opt.step(_quad_closure(params, A, b))
    np.testing.assert_allclose(_flat(params), x_star, rtol=0, atol=1e-12)
    assert opt.info["iterations"] == 1 and opt.info["function_evaluations"] == 1
    assert opt.info["damping"] == 0.0    # positive definite: the full, undamped step
    # at the minimizer the next step stops on the gradient at once, without moving
    before = _flat(params)
    opt.step(_quad_closure(params, A, b))
    assert opt.info["reason"] == "tolerance_grad" and opt.info["iterations"] == 0
    np.testing.assert_array_equal(_flat(params), before)


def test_newton_logistic_regression_converges_quadratically():
    rng = np.random.default_rng(1)
    X, y = _logistic(rng)
    params = {"w": np.zeros(5), "b": np.zeros(1)}
    closure = _logistic_closure(list(params.values()), X, y)

    def dict_closure():
        loss, g, H = closure()
        return loss, {"w": g[0], "b": g[1]}, H

    opt = Newton(params)
    norms = []
    for _ in range(10):
        opt.step(dict_closure)
        norms.append(np.linalg.norm(_flat([g for g in closure()[1]])))
        if norms[-1] < 1e-10:
            break
    assert norms[-1] < 1e-10, norms
    assert len(norms) <= 8
    # several iterations in one step, with the stopping reason reported
    params2 = [np.zeros(5), np.zeros(1)]
    opt2 = Newton(params2, max_iter=20)
    opt2.step(_logistic_closure(params2, X, y))
    assert opt2.info["reason"] in ("tolerance_grad", "tolerance_change")
    assert opt2.info["converged"] and opt2.info["grad_norm"] < 1e-10
    assert opt2.info["iterations"] <= 10
    assert opt2.info["function_evaluations"] == opt2.info["iterations"] + 1
    np.testing.assert_allclose(_flat(params2), _flat(list(params.values())), atol=1e-12)


def test_ill_conditioned_quadratic_first_order_crawls_newton_does_not():
    rng = np.random.default_rng(2)
    A, b, x_star = _quadratic(20, 1e6, rng)
    f = lambda x: 0.5 * x @ A @ x - b @ x  # noqa: E731
    f_star = f(x_star)
    gap0 = f(np.zeros(20)) - f_star

    def first_order(opt_cls, **kw):
        p = [np.zeros(20)]
        opt = opt_cls(p, **kw)
        for _ in range(2000):
            opt.step([A @ p[0] - b])
        return (f(p[0]) - f_star) / gap0

    sgd_gap = first_order(fusedoptim.SGD, lr=1.0 / 1e6)          # the stable rate 1/L
    adam_gap = first_order(fusedoptim.Adam, lr=1e-2)
    p = [np.zeros(20)]
    Newton(p).step(_quad_closure(p, A, b))
    newton_gap = (f(p[0]) - f_star) / gap0
    assert sgd_gap > 1e-3 and adam_gap > 1e-3, (sgd_gap, adam_gap)
    assert newton_gap < 1e-12
    np.testing.assert_allclose(p[0], x_star, rtol=1e-8, atol=0)


def test_indefinite_and_singular_hessians_are_damped_never_nan():
    # indefinite: the double well x^4/4 - x^2/2 + y^2/2 starting near the maximum
    def well(params):
        def closure():
            x, yv = params[0]
            return (x ** 4 / 4 - x ** 2 / 2 + yv ** 2 / 2, [np.array([x ** 3 - x, yv])],
                    np.array([[3 * x ** 2 - 1, 0.0], [0.0, 1.0]]))
        return closure

    for ls in (None, "backtracking", "strong_wolfe"):
        p = [np.array([0.1, 1.0])]
        opt = Newton(p, line_search_fn=ls)
        damped = []
        for _ in range(40):
            opt.step(well(p))
            assert np.isfinite(p[0]).all()
            damped.append(opt.info["damping"])
        assert damped[0] > 0          # H not positive definite at the start: damped
        assert damped[-1] == 0.0      # near the minimum: plain Newton
        np.testing.assert_allclose(np.abs(p[0]), [1.0, 0.0], atol=1e-10)

    # singular, positive semidefinite: f = (x1 + x2)^2 / 2, gradient in H's range
    H = np.ones((2, 2))
    p = [np.array([3.0, -1.0])]
    opt = Newton(p, max_iter=50)
    opt.step(lambda: (0.5 * p[0].sum() ** 2, [H @ p[0]], H))
    assert np.isfinite(p[0]).all() and opt.info["damping"] > 0
    assert abs(p[0].sum()) < 1e-8
    # singular with the gradient outside the range, and H = 0: finite steps
    for H in (np.diag([1.0, 0.0]), np.zeros((2, 2)), np.diag([1.0, -1e-300])):
        p = [np.array([1.0, 1.0])]
        opt = Newton(p)
        for _ in range(3):
            opt.step(lambda: (p[0][0] ** 2 / 2 + p[0][1], [np.array([p[0][0], 1.0])], H))
            assert np.isfinite(p[0]).all()


def test_newton_cg_with_a_hessian_vector_product():
    rng = np.random.default_rng(3)
    A, b, x_star = _quadratic(40, 1e2, rng)
    params = [np.zeros(30), np.zeros((2, 5))]
    opt = Newton(params, cg_tol=1e-13)
    opt.step(_quad_closure(params, A, b, hvp=True))
    np.testing.assert_allclose(_flat(params), x_star, atol=1e-9)
    assert 0 < opt.info["cg_iterations"] <= 200
    # default forcing term: inexact steps, superlinear convergence
    params = [np.zeros(30), np.zeros((2, 5))]
    opt = Newton(params, max_iter=30)
    opt.step(_quad_closure(params, A, b, hvp=True))
    assert opt.info["converged"], opt.info
    np.testing.assert_allclose(_flat(params), x_star, atol=1e-8)
    # negative curvature: CG stops there, the step stays finite and goes downhill
    M = np.diag([1.0, -2.0, 3.0])
    p = [np.array([1.0, 0.5, -1.0])]
    opt = Newton(p, line_search_fn="backtracking")
    loss0 = 0.5 * p[0] @ M @ p[0]
    opt.step(lambda: (0.5 * p[0] @ M @ p[0], [M @ p[0]], lambda v: M @ v))
    assert np.isfinite(p[0]).all() and 0.5 * p[0] @ M @ p[0] < loss0


def test_newton_float32_params():
    rng = np.random.default_rng(4)
    A, b, x_star = _quadratic(6, 10.0, rng)
    params = [np.zeros(6, np.float32)]
    Newton(params).step(_quad_closure(params, A, b))
    assert params[0].dtype == np.float32
    np.testing.assert_allclose(params[0], x_star, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ DiagonalNewton
def test_diagonal_newton_matches_its_formula():
    rng = np.random.default_rng(5)
    shapes = [(7,), (3, 4), (1,)]
    for dtype in (np.float64, np.float32):
        params = [rng.standard_normal(s).astype(dtype) for s in shapes]
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        hd = [rng.standard_normal(s).astype(dtype) for s in shapes]
        hd[1][0, :2] = [1e-12, 0.0]          # tiny and zero curvature
        hd[2][0] = -3.0                      # negative curvature
        expected = [p - 0.5 * g / np.maximum(np.abs(h), 1e-4) for p, g, h in zip(params, grads, hd)]
        opt = DiagonalNewton(params, lr=0.5, min_curvature=1e-4)
        loss = opt.step(lambda: (1.25, grads, hd))
        assert loss == 1.25
        for p, e in zip(params, expected):
            np.testing.assert_allclose(p, e, rtol=1e-6 if dtype == np.float32 else 1e-15)
        assert opt.info["iterations"] == 1 and opt.info["function_evaluations"] == 1
        assert opt.info["grad_norm"] == pytest.approx(np.linalg.norm(_flat(grads)), rel=1e-6)


def test_diagonal_newton_solves_a_separable_quadratic_in_one_step():
    rng = np.random.default_rng(6)
    h = [rng.uniform(1e-3, 1e3, 9), rng.uniform(1e-3, 1e3, (2, 2))]
    c = [rng.standard_normal(9), rng.standard_normal((2, 2))]
    params = [np.zeros(9), np.zeros((2, 2))]

    def closure():
        return (sum(0.5 * np.sum(hi * (p - ci) ** 2) for hi, p, ci in zip(h, params, c)),
                [hi * (p - ci) for hi, p, ci in zip(h, params, c)], h)

    DiagonalNewton(params).step(closure)
    for p, ci in zip(params, c):
        np.testing.assert_allclose(p, ci, atol=1e-13)
    # param groups with their own lr
    params = [np.zeros(9), np.zeros((2, 2))]
    opt = DiagonalNewton([{"params": [params[0]]}, {"params": [params[1]], "lr": 0.5}])
    opt.step(closure)
    np.testing.assert_allclose(params[0], c[0], atol=1e-13)
    np.testing.assert_allclose(params[1], 0.5 * c[1], atol=1e-13)


# ------------------------------------------------------------------ LBFGS
def test_lbfgs_rosenbrock_strong_wolfe_and_counts_vs_scipy():
    rows = []
    for name, x0 in ROSEN_STARTS.items():
        params = _rosen_params(x0)
        opt = LBFGS(params, line_search_fn="strong_wolfe", max_iter=500, max_eval=1000,
                    history_size=10, tolerance_grad=1e-10, tolerance_change=0)
        opt.step(_rosen_closure(params))
        x = _flat(params)
        assert np.max(np.abs(x - 1.0)) < 1e-8, (name, x)
        assert _rosen(x) < 1e-16
        info = opt.info
        assert info["reason"] == "tolerance_grad" and info["converged"]
        assert info["grad_max_abs"] <= 1e-10
        assert info["function_evaluations"] == opt.state[0]["func_evals"]
        assert info["iterations"] == opt.state[0]["n_iter"]
        row = [name, info["iterations"], info["function_evaluations"]]
        if scipy_optimize is not None:
            r = scipy_optimize.minimize(_rosen, x0, jac=_rosen_grad, method="L-BFGS-B",
                                        options=dict(maxcor=10, gtol=1e-10, ftol=1e-16,
                                                     maxiter=1000))
            row += [r.nit, r.nfev]
            # same order of work as scipy's L-BFGS-B (different line search)
            assert info["function_evaluations"] <= 2 * r.nfev + 10
        rows.append(row)
    print("\nRosenbrock, L-BFGS (m=10) to |g|_inf <= 1e-10: "
          "[problem, iterations, evaluations, scipy L-BFGS-B iterations, evaluations]")
    for row in rows:
        print("   ", row)


def _torch_lbfgs_run(x0, steps, **kw):
    """torch.optim.LBFGS on the same Rosenbrock values and gradients (NumPy's, bit for
    bit), so that only the optimizers' own arithmetic can differ."""
    x = torch.tensor(x0, dtype=torch.float64)
    opt = torch.optim.LBFGS([x], **kw)

    def closure():
        xn = x.numpy()
        x.grad = torch.from_numpy(_rosen_grad(xn))
        return _rosen(xn)

    out = []
    for _ in range(steps):
        loss = opt.step(closure)
        out.append((float(loss), x.detach().numpy().copy()))
    st = opt.state[x]
    return out, (st["n_iter"], st["func_evals"])


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("line_search_fn, lr, max_iter", [(None, 1e-2, 7), (None, 1, 3),
                                                         ("strong_wolfe", 1, 4)])
@pytest.mark.parametrize("start", sorted(ROSEN_STARTS))
def test_lbfgs_same_iterates_as_torch(line_search_fn, lr, max_iter, start):
    x0 = ROSEN_STARTS[start]
    kw = dict(lr=lr, max_iter=max_iter, history_size=5, line_search_fn=line_search_fn)
    ref, (t_iter, t_evals) = _torch_lbfgs_run(x0, 8, **kw)
    params = _rosen_params(x0)
    opt = LBFGS(params, **kw)
    for loss_t, x_t in ref:
        loss = opt.step(_rosen_closure(params))
        x = _flat(params)
        if not np.isfinite(x_t).all():
            pytest.skip("torch diverged")
        np.testing.assert_allclose(x, x_t, rtol=1e-10, atol=1e-10)
        assert loss == pytest.approx(loss_t, rel=1e-10, abs=1e-10)
    assert (opt.state[0]["n_iter"], opt.state[0]["func_evals"]) == (t_iter, t_evals)


@pytest.mark.skipif(torch is None, reason="torch not installed")
def test_lbfgs_rosenbrock_counts_vs_torch():
    x0 = ROSEN_STARTS["10d"]
    kw = dict(line_search_fn="strong_wolfe", max_iter=500, max_eval=1000, history_size=10,
              tolerance_grad=1e-10, tolerance_change=0)
    ref, t_counts = _torch_lbfgs_run(x0, 1, **kw)
    x_t = ref[0][1]
    params = _rosen_params(x0)
    opt = LBFGS(params, **kw)
    opt.step(_rosen_closure(params))
    print(f"\nRosenbrock 10d: fusedoptim.LBFGS iterations/evaluations "
          f"{opt.info['iterations']}/{opt.info['function_evaluations']}, "
          f"torch.optim.LBFGS {t_counts[0]}/{t_counts[1]}")
    assert (opt.info["iterations"], opt.info["function_evaluations"]) == t_counts
    np.testing.assert_allclose(_flat(params), x_t, atol=1e-10)


def test_lbfgs_stopping_reasons_and_defaults():
    opt = LBFGS([np.zeros(2)])
    g = opt.param_groups[0]
    assert (g["lr"], g["max_iter"], g["max_eval"], g["tolerance_grad"], g["tolerance_change"],
            g["history_size"], g["line_search_fn"]) == (1, 20, 25, 1e-7, 1e-9, 100, None)
    assert LBFGS([np.zeros(2)], max_iter=8).param_groups[0]["max_eval"] == 10
    # max_iter
    params = _rosen_params(ROSEN_STARTS["2d"])
    opt = LBFGS(params, max_iter=3, max_eval=10, lr=1e-3)
    opt.step(_rosen_closure(params))
    assert opt.info["reason"] == "max_iter" and opt.info["iterations"] == 3
    assert opt.info["function_evaluations"] == 3   # no evaluation after the last update
    # max_eval: the default max_iter * 5 // 4 = 3 evaluations stop before max_iter = 3
    params = _rosen_params(ROSEN_STARTS["2d"])
    opt = LBFGS(params, max_iter=3, lr=1e-3)
    opt.step(_rosen_closure(params))
    assert opt.info["reason"] == "max_eval" and opt.info["iterations"] == 2
    # max_eval
    params = _rosen_params(ROSEN_STARTS["2d"])
    opt = LBFGS(params, max_iter=100, max_eval=7, line_search_fn="strong_wolfe")
    opt.step(_rosen_closure(params))
    assert opt.info["reason"] == "max_eval" and opt.info["function_evaluations"] >= 7
    # tolerance_grad at the start: nothing moves
    params = [np.ones(2)]
    opt = LBFGS(params)
    opt.step(_rosen_closure(params))
    assert opt.info["reason"] == "tolerance_grad" and opt.info["iterations"] == 0
    np.testing.assert_array_equal(params[0], 1.0)
    # tolerance_change on a quadratic solved early
    A = np.diag([1.0, 2.0])
    p = [np.array([1.0, 1.0])]
    opt = LBFGS(p, line_search_fn="strong_wolfe", tolerance_grad=0.0)
    opt.step(lambda: (0.5 * p[0] @ A @ p[0], [A @ p[0]]))
    assert opt.info["reason"] == "tolerance_change" and opt.info["converged"]


def test_lbfgs_state_dict_roundtrip_and_float32_dict_params():
    params = _rosen_params(ROSEN_STARTS["10d"])
    opt = LBFGS(params, max_iter=4, history_size=3, line_search_fn="strong_wolfe")
    opt.step(_rosen_closure(params))
    sd = opt.state_dict()
    twin = [p.copy() for p in params]
    opt2 = LBFGS(twin, max_iter=4, history_size=3, line_search_fn="strong_wolfe")
    opt2.load_state_dict(sd)
    for _ in range(2):
        opt.step(_rosen_closure(params))
        opt2.step(_rosen_closure(twin))
    for a, b in zip(params, twin):
        np.testing.assert_array_equal(a, b)
    assert opt.state[params[0]]["n_iter"] == opt2.state[0]["n_iter"] > 8
    with pytest.raises(ValueError, match="shaped like the params"):
        bad = opt.state_dict()
        bad["state"][0]["d"] = [np.zeros(3)]
        opt2.load_state_dict(bad)

    p = {"a": np.full(3, -0.5, np.float32), "b": np.full((2,), 0.5, np.float32)}
    opt = LBFGS(p, line_search_fn="strong_wolfe", max_iter=100)

    def closure():
        x = np.concatenate([p["a"], p["b"]]).astype(np.float64)
        g = _rosen_grad(x)
        return _rosen(x), {"a": g[:3], "b": g[3:]}

    opt.step(closure)
    assert p["a"].dtype == np.float32
    assert _rosen(np.concatenate([p["a"], p["b"]]).astype(np.float64)) < 1e-6


# ------------------------------------------------------------------ bad input
def _snapshot(params):
    return [p.copy() for p in params]


@pytest.mark.parametrize("cls", [Newton, DiagonalNewton, LBFGS])
def test_bad_closures_raise_before_anything_changes(cls):
    params = [np.ones(3), np.ones((2, 2))]
    before = _snapshot(params)
    opt = cls(params)
    good_g = [np.ones(3), np.ones((2, 2))]
    third = {Newton: np.eye(7), DiagonalNewton: [np.ones(3), np.ones((2, 2))], LBFGS: None}[cls]

    def ret(loss, grads, extra=third):
        return (loss, grads) if cls is LBFGS else (loss, grads, extra)

    cases = [
        (None, TypeError, "closure"),
        (lambda: 1.0, TypeError, "tuple"),
        (lambda: (1.0,), TypeError, "tuple"),
        (lambda: ret(1.0, good_g[:1]), ValueError, "expected 2 grads"),
        (lambda: ret(1.0, [np.ones(4), np.ones((2, 2))]), ValueError, r"grads\[0\] has shape"),
        (lambda: ret(1.0, np.ones(7)), TypeError, "list of arrays"),
        (lambda: ret(1.0, [[1, 1, 1], np.ones((2, 2))]), TypeError, r"grads\[0\]"),
        (lambda: ret(1.0, [np.full(3, np.nan), np.ones((2, 2))]), ValueError, "NaN"),
        (lambda: ret("x", good_g), TypeError, "loss"),
    ]
    if cls is not DiagonalNewton:
        cases.append((lambda: ret(float("nan"), good_g), ValueError, "non-finite loss"))
    if cls is Newton:
        cases += [(lambda: ret(1.0, good_g, np.eye(6)), ValueError, r"H has shape"),
                  (lambda: ret(1.0, good_g, "H"), TypeError, "H must be"),
                  (lambda: ret(1.0, good_g, np.full((7, 7), np.inf)), ValueError, "H contains"),
                  (lambda: ret(1.0, good_g, lambda v: np.ones(3)), ValueError,
                   "Hessian-vector product")]
    if cls is DiagonalNewton:
        cases += [(lambda: ret(1.0, good_g, [np.ones(3)]), ValueError, "expected 2 hess_diags"),
                  (lambda: ret(1.0, good_g, [np.ones(3), np.ones(4)]), ValueError,
                   r"hess_diags\[1\] has shape"),
                  (lambda: ret(1.0, good_g, [np.ones(3), np.full((2, 2), np.nan)]), ValueError,
                   "NaN")]
    for closure, exc, match in cases:
        with pytest.raises(exc, match=match):
            opt.step(closure)
        for p, q in zip(params, before):
            np.testing.assert_array_equal(p, q)
    assert dict(opt.state) in ({}, {0: {"func_evals": 0, "n_iter": 0}})


@pytest.mark.parametrize("cls, kw, exc, match", [
    (LBFGS, dict(lr=-1), ValueError, "lr"),
    (LBFGS, dict(max_iter=0), ValueError, "max_iter"),
    (LBFGS, dict(max_iter=2.5), TypeError, "max_iter"),
    (LBFGS, dict(history_size=0), ValueError, "history_size"),
    (LBFGS, dict(tolerance_grad=-1), ValueError, "tolerance_grad"),
    (LBFGS, dict(line_search_fn="armijo"), ValueError, "line_search_fn"),
    (LBFGS, dict(foo=1), TypeError, "foo"),
    (Newton, dict(damping=0), ValueError, "damping"),
    (Newton, dict(damping_factor=1), ValueError, "damping_factor"),
    (Newton, dict(line_search_fn="wolfe"), ValueError, "line_search_fn"),
    (Newton, dict(cg_max_iter=0), ValueError, "cg_max_iter"),
    (DiagonalNewton, dict(min_curvature=0), ValueError, "min_curvature"),
    (DiagonalNewton, dict(lr=float("nan")), ValueError, "lr"),
])
def test_bad_hyperparameters(cls, kw, exc, match):
    with pytest.raises(exc, match=match):
        cls([np.ones(2)], **kw)


def test_bad_params_and_groups():
    with pytest.raises(TypeError, match="params"):
        LBFGS(np.ones(3))
    with pytest.raises(ValueError, match="params"):
        Newton([])
    with pytest.raises(TypeError, match=r"params\[0\].*int64"):
        DiagonalNewton([np.arange(3)])
    with pytest.raises(ValueError, match="parameter groups"):
        LBFGS([{"params": [np.ones(2)]}, {"params": [np.ones(2)], "lr": 0.1}])
    with pytest.raises(ValueError, match="parameter groups"):
        Newton([{"params": [np.ones(2)]}, {"params": [np.ones(2)]}])


def test_exported_at_top_level():
    for name in ("Newton", "DiagonalNewton", "LBFGS"):
        assert name in fusedoptim.__all__ and getattr(fusedoptim, name) is not None
