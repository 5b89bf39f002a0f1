"""Newton's method: dense (Cholesky, Levenberg damping) or Hessian-free (truncated CG)."""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import vector as V
from .._typing import Closure, Hyper, Label, ParamGroup, Params
from ..clip import global_norm
from . import _base
from ._line_search import backtracking, strong_wolfe


class Newton(_base.ClosureOptimizer):
    r"""Newton's method over all params taken as one flat vector x (params in order,
    each flattened in C order): no learning rate to tune,

    .. math::
        x \leftarrow x + t\,p, \qquad (H + \lambda I)\,p = -g

    ``step(closure)``: the closure evaluates the model at the params (updated in place)
    and returns ``(loss, grads, H)``, grads aligned with the params (a list, or a dict
    with their keys) and H either

    * a dense (n, n) array over the n elements of all params: its Cholesky factor decides
      positive definiteness (the smallest pivot squared above ``n * eps * max|H_ii|``).
      With H positive definite lambda = 0: the full Newton step, which minimizes a
      quadratic in one step. Otherwise (indefinite or singular H) Levenberg damping:
      :math:`\lambda_0 = \mathrm{damping}\cdot s + \max(0, -\min_i H_{ii})` with
      :math:`s = \max_i |H_{ii}|` (1 if 0), multiplied by ``damping_factor`` until the
      factorization succeeds; the result is a finite descent direction. H is symmetrized
      as (H + H^T)/2 and solved in float64.
    * or a callable v -> H v on flat float64 vectors of length n (Newton-CG /
      Hessian-free): truncated conjugate gradients on H p = -g from p = 0, stopped at
      :math:`\|Hp + g\| \le \eta \|g\|` with :math:`\eta = ` ``cg_tol``, by default
      :math:`\min(0.5, \sqrt{\|g\|})` (superlinear convergence), after ``cg_max_iter``
      iterations (default 20 n, as scipy's Newton-CG: CG is exact after n iterations
      only in exact arithmetic), or at a direction of non-positive curvature
      (:math:`d^\top H d \le 0`: the iterate so far, or -g at the first one).

    t = lr (1: the full step) unless ``line_search_fn`` is "backtracking" (Armijo:
    halve t from lr until :math:`f(x + tp) \le f + 10^{-4} t g^\top p`) or
    "strong_wolfe" (as in LBFGS); trial points call the closure, whose H then serves
    the next iteration.

    Each step runs up to ``max_iter`` iterations (default 1: one Newton step per call)
    and stops early when :math:`\max|g| \le` tolerance_grad (before updating),
    :math:`|f_k - f_{k-1}| <` tolerance_change or :math:`\max|tp| \le`
    tolerance_change, or after ``max_eval`` closure calls (None: no limit);
    ``opt.info`` says which, with the largest damping lambda and the CG iterations used.
    Its loss and gradient norm are those of the last point evaluated: without a line
    search the last update is not re-evaluated (as in torch's L-BFGS).
    """

    def __init__(self, params: Params, lr: float = 1.0, max_iter: int = 1,
                 max_eval: int | None = None, tolerance_grad: float = 1e-12,
                 tolerance_change: float = 1e-12, line_search_fn: str | None = None,
                 damping: float = 1e-3, damping_factor: float = 10.0,
                 cg_max_iter: int | None = None, cg_tol: float | None = None) -> None:
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      line_search_fn=line_search_fn, damping=damping,
                                      damping_factor=damping_factor, cg_max_iter=cg_max_iter,
                                      cg_tol=cg_tol))
        self._n = sum(p.size for p in self._params)

    def _check_group(self, group: ParamGroup, label: Label) -> Hyper:
        ls = group["line_search_fn"]
        if ls not in (None, "backtracking", "strong_wolfe"):
            raise ValueError(f"{label('line_search_fn')}: expected None, 'backtracking' or "
                             f"'strong_wolfe', got {ls!r}")
        h = dict(lr=_base.nonneg(label("lr"), group["lr"]),
                 max_iter=_base.positive_int(label("max_iter"), group["max_iter"]),
                 max_eval=None if group["max_eval"] is None
                 else _base.positive_int(label("max_eval"), group["max_eval"]),
                 tolerance_grad=_base.nonneg(label("tolerance_grad"), group["tolerance_grad"]),
                 tolerance_change=_base.nonneg(label("tolerance_change"),
                                               group["tolerance_change"]),
                 line_search_fn=ls,
                 damping=_base.nonneg(label("damping"), group["damping"]),
                 damping_factor=_base.nonneg(label("damping_factor"), group["damping_factor"]),
                 cg_max_iter=None if group["cg_max_iter"] is None
                 else _base.positive_int(label("cg_max_iter"), group["cg_max_iter"]),
                 cg_tol=None if group["cg_tol"] is None
                 else _base.nonneg(label("cg_tol"), group["cg_tol"]))
        if not (h["damping"] > 0 and math.isfinite(h["damping"])):
            raise ValueError(f"{label('damping')}: must be > 0 and finite, got "
                             f"{group['damping']!r}")
        if not (h["damping_factor"] > 1 and math.isfinite(h["damping_factor"])):
            raise ValueError(f"{label('damping_factor')}: must be > 1 and finite, got "
                             f"{group['damping_factor']!r}")
        return h

    # ------------------------------------------------------------------ closure
    def _evaluate(self, closure: Closure,
                  start: bool = False) -> tuple[float, list[np.ndarray], Any]:
        loss, grads, H = self._call(closure, 3, "(loss, grads, H)")
        loss = self._loss(loss, finite=start)
        grads = self._arrays(grads, "grads", copy_=False)
        if callable(H):
            hess = H
        else:
            if not isinstance(H, np.ndarray) or H.dtype.kind not in "fiu":
                raise TypeError("closure: H must be a real (n, n) NumPy array or a callable "
                                f"v -> H v, got {type(H).__name__}")
            if H.shape != (self._n, self._n):
                raise ValueError(f"closure: H has shape {H.shape}, expected ({self._n}, "
                                 f"{self._n}) for the {self._n} elements of the params")
            hess = H.astype(np.float64)
            if start and not np.isfinite(hess).all():
                raise ValueError("closure: H contains NaN or infinity at the current parameters")
        if start:
            self._check_finite(grads, "grads")
        return loss, grads, hess

    def _flat(self, grads: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([g.reshape(-1) for g in grads]).astype(np.float64, copy=False) \
            if grads else np.zeros(0)

    # ---------------------------------------------------------------- direction
    def _dense_direction(self, H: np.ndarray, g: np.ndarray, h: Hyper) -> tuple[np.ndarray, float]:
        """(p, lambda): Cholesky of H + lambda I, lambda = 0 first."""
        H = 0.5 * (H + H.T)
        diag = np.diag(H)
        scale = float(np.max(np.abs(diag))) if diag.size else 0.0
        scale = scale if scale > 0 else 1.0
        tiny = max(self._n, 1) * np.finfo(np.float64).eps * scale
        lam = 0.0
        for _ in range(200):
            A = H + lam * np.eye(self._n) if lam else H
            try:
                L = np.linalg.cholesky(A)
            except np.linalg.LinAlgError:
                L = None
            if L is not None and np.min(np.diag(L)) ** 2 > tiny:
                p = -np.linalg.solve(A, g)
                if np.isfinite(p).all():
                    return p, lam
            lam = (h["damping"] * scale + max(0.0, -float(np.min(diag)))) if lam == 0 \
                else lam * h["damping_factor"]
        raise ValueError("Newton: could not damp H into a positive definite matrix")

    def _cg_direction(self, hvp: Callable[[np.ndarray], Any], g: np.ndarray,
                      h: Hyper) -> tuple[np.ndarray, int]:
        """(p, iterations): truncated CG on H p = -g."""
        n = self._n
        gnorm = float(np.linalg.norm(g))
        eta = h["cg_tol"] if h["cg_tol"] is not None else min(0.5, math.sqrt(gnorm))
        p = np.zeros(n)
        r = -g.copy()           # residual -g - H p
        d = r.copy()
        rr = float(r @ r)
        for k in range(h["cg_max_iter"] or max(20 * n, 1)):
            Hd = hvp(d.copy())
            Hd = np.asarray(Hd, dtype=np.float64) if isinstance(Hd, np.ndarray) else None
            if Hd is None or Hd.shape not in ((n,), (n, 1)):
                raise ValueError(f"closure: the Hessian-vector product must return a flat array "
                                 f"of {n} values")
            Hd = Hd.reshape(n)
            if not np.isfinite(Hd).all():
                raise ValueError("closure: the Hessian-vector product returned NaN or infinity")
            dHd = float(d @ Hd)
            if dHd <= 0:
                return (p if k else -g.copy()), k
            alpha = rr / dHd
            p += alpha * d
            r -= alpha * Hd
            rr_new = float(r @ r)
            if math.sqrt(rr_new) <= eta * gnorm:
                return p, k + 1
            d = r + (rr_new / rr) * d
            rr = rr_new
        return p, k + 1

    # --------------------------------------------------------------------- step
    @_base.one_at_a_time
    def step(self, closure: Closure) -> Any:
        """Run up to max_iter Newton iterations; returns the loss at the start of the step."""
        _base.check_closure(closure)
        h = self._hparams()
        params = self._params
        max_eval = h["max_eval"] or math.inf
        first = self._call(closure, 3, "(loss, grads, H)")
        loss, grads, H = self._evaluate(lambda: first, start=True)
        state = self._global()   # counts added at the end: a failing Hv product leaves none
        evals, n_iter, reason = 1, 0, None
        damping, cg_iters = 0.0, 0
        while True:
            if global_norm(grads, math.inf) <= h["tolerance_grad"]:
                reason = "tolerance_grad"
                break
            if n_iter == h["max_iter"]:
                reason = "max_iter"
                break
            if h["line_search_fn"] is not None and evals >= max_eval:
                reason = "max_eval"
                break
            g = self._flat(grads)
            if callable(H):
                p, k = self._cg_direction(H, g, h)
                cg_iters += k
            else:
                p, lam = self._dense_direction(H, g, h)
                damping = max(damping, lam)
            n_iter += 1
            gtd = float(g @ p)
            if not gtd < 0:
                reason = "tolerance_change"   # no descent left (g ~ 0 up to rounding)
                break
            pv = self._views(p)
            prev_loss, t = loss, h["lr"]
            if h["line_search_fn"] is None:
                V.axpy_(t, pv, params)
                if n_iter == h["max_iter"] or evals >= max_eval:
                    reason = "max_iter" if n_iter == h["max_iter"] else "max_eval"
                    if t * float(np.max(np.abs(p), initial=0.0)) <= h["tolerance_change"]:
                        reason = "tolerance_change"
                    break
                loss, grads, H = self._evaluate(closure)
                evals += 1
            else:
                x0 = [p_.copy() for p_ in params]

                def obj(step: float, x0: list[np.ndarray] = x0, pv: list[np.ndarray] = pv,
                        p: np.ndarray = p) -> tuple[float, float, Any]:
                    V.axpy_(step, pv, params)
                    try:
                        f, gr, Hn = self._evaluate(closure)
                    finally:
                        V.copy_(params, x0)
                    f = math.inf if f != f else f
                    return f, float(self._flat(gr) @ p), (gr, Hn)

                left = 25 if max_eval == math.inf else int(max_eval - evals)
                if h["line_search_fn"] == "backtracking":
                    loss, (grads, H), t, k = backtracking(obj, t, loss, gtd, (grads, H),
                                                          max_ls=left)
                else:
                    loss, (grads, H), t, k = strong_wolfe(
                        obj, t, loss, gtd, (grads, H), float(np.max(np.abs(p))),
                        tolerance_change=h["tolerance_change"],
                        max_ls=left if max_eval == math.inf else left - 1)
                evals += k
                if t == 0:
                    reason = "line_search_failed"
                    break
                V.axpy_(t, pv, params)
            # a fresh evaluation at the new point
            if not (math.isfinite(loss) and _base.all_finite(grads)
                    and (callable(H) or np.isfinite(H).all())):
                reason = "non_finite"
                break
            if global_norm(grads, math.inf) <= h["tolerance_grad"]:
                reason = "tolerance_grad"
                break
            if abs(loss - prev_loss) < h["tolerance_change"] or \
                    t * float(np.max(np.abs(p), initial=0.0)) <= h["tolerance_change"]:
                reason = "tolerance_change"
                break
        state["func_evals"] += evals
        state["n_iter"] += n_iter
        self._finish(loss, n_iter, evals, grads, reason, damping=damping,
                     cg_iterations=cg_iters)
        return first[0]
