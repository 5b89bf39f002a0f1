"""L-BFGS with torch.optim.LBFGS's keywords, defaults and iterates."""
from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import vector as V
from .._typing import Closure, Hyper, Label, ParamGroup, Params
from ..clip import global_norm
from . import _base
from ..optim._state import lbfgs_state_from_flat, lbfgs_state_to_flat
from ._line_search import strong_wolfe


class LBFGS(_base.ClosureOptimizer):
    r"""Limited-memory BFGS, as torch.optim.LBFGS (same keywords, defaults, iterates).

    ``step(closure)`` runs up to ``max_iter`` iterations; the closure re-evaluates the
    model at the params (updated in place) and returns ``(loss, grads)``, grads a list
    aligned with the params (or a dict with their keys). With the gradient g, the last
    ``history_size`` pairs :math:`s_k = x_{k+1} - x_k`, :math:`y_k = g_{k+1} - g_k`
    (kept only when :math:`y_k^\top s_k > 10^{-10}`), :math:`\rho_k = 1/(y_k^\top s_k)`
    and :math:`\gamma = s^\top y / y^\top y` of the newest pair, the two-loop recursion
    gives the direction :math:`d = -H g`:

    .. math::
        q &\leftarrow -g;\quad \alpha_k = \rho_k s_k^\top q,\ q \leftarrow q - \alpha_k y_k
            \quad(k = \text{newest} \ldots \text{oldest}) \\
        r &\leftarrow \gamma q;\quad \beta_k = \rho_k y_k^\top r,\
            r \leftarrow r + (\alpha_k - \beta_k) s_k \quad(k = \text{oldest} \ldots
            \text{newest});\quad d = r

    and :math:`x \leftarrow x + t d`, with t = lr (the very first iteration
    :math:`t = \min(1, 1/\|g\|_1)\,\mathrm{lr}`) or, with ``line_search_fn="strong_wolfe"``,
    t from a strong-Wolfe line search starting there (c1 = 1e-4, c2 = 0.9). Every dot
    product and axpy runs over all arrays at once through :mod:`fusedoptim.vector`.

    A step stops (``opt.info["reason"]``) when :math:`\max|g| \le` tolerance_grad,
    when :math:`g^\top d > -`tolerance_change, :math:`\max|t d| \le` tolerance_change
    or :math:`|f_k - f_{k-1}| <` tolerance_change ("tolerance_change"), after
    ``max_iter`` iterations or ``max_eval`` closure calls (default max_iter * 5 // 4).
    The history and counts persist across steps in ``opt.state[0]`` (torch's names:
    ``func_evals``, ``n_iter``, ``d``, ``t``, ``old_dirs``, ``old_stps``, ``ro``,
    ``H_diag``, ``prev_flat_grad``, ``prev_loss``), vectors as lists of arrays.

    Deviations from torch, only where torch would produce NaN: a non-finite loss or
    gradient at the start of a step raises ValueError; one after a fixed-step update
    ends the step ("non_finite"); the line search treats a NaN loss as +inf.
    """

    _state_names = ("func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                    "prev_flat_grad", "prev_loss", "al")

    def __init__(self, params: Params, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if isinstance(max_iter, numbers.Integral) and not isinstance(max_iter, bool) \
                and max_eval is None:
            max_eval = max_iter * 5 // 4
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size, line_search_fn=line_search_fn))

    def _check_group(self, group: ParamGroup, label: Label) -> Hyper:
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(f"{label('line_search_fn')}: expected None or 'strong_wolfe', got "
                             f"{group['line_search_fn']!r}")
        return dict(lr=_base.nonneg(label("lr"), group["lr"]),
                    max_iter=_base.positive_int(label("max_iter"), group["max_iter"]),
                    max_eval=_base.positive_int(label("max_eval"), group["max_eval"]),
                    tolerance_grad=_base.nonneg(label("tolerance_grad"), group["tolerance_grad"]),
                    tolerance_change=_base.nonneg(label("tolerance_change"),
                                                  group["tolerance_change"]),
                    history_size=_base.positive_int(label("history_size"), group["history_size"]),
                    line_search_fn=group["line_search_fn"])

    def _evaluate(self, closure: Closure, start: bool = False) -> tuple[float, list[np.ndarray]]:
        loss, grads = self._call(closure, 2, "(loss, grads)")
        loss = self._loss(loss, finite=start)
        grads = self._arrays(grads, "grads", copy_=True)
        if start:
            self._check_finite(grads, "grads")
        return loss, grads

    @_base.one_at_a_time
    def step(self, closure: Closure) -> Any:
        """Run up to max_iter L-BFGS iterations; returns the loss at the start of the step."""
        _base.check_closure(closure)
        h = self._hparams()
        lr, max_iter, max_eval = h["lr"], h["max_iter"], h["max_eval"]
        tol_grad, tol_change = h["tolerance_grad"], h["tolerance_change"]
        params = self._params

        orig = self._call(closure, 2, "(loss, grads)")
        loss = self._loss(orig[0], finite=True)
        flat_grad = self._arrays(orig[1], "grads", copy_=True)
        self._check_finite(flat_grad, "grads")
        state = self._global()   # everything is checked: from here on state may change
        state["func_evals"] += 1
        current_evals = 1
        reason = None
        n_iter = 0
        if global_norm(flat_grad, math.inf) <= tol_grad:
            self._finish(loss, 0, 1, flat_grad, "tolerance_grad")
            return orig[0]

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            # ---- direction
            if state["n_iter"] == 1:
                d = _clone(flat_grad)
                V.scale_(d, -1.0)
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = _clone(flat_grad)                 # y = g - g_prev
                V.axpy_(-1.0, prev_flat_grad, y)
                s = _clone(d)                         # s = t d
                V.scale_(s, t)
                ys = V.dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == h["history_size"]:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / V.dot(y, y)
                num_old = len(old_dirs)
                al = state.setdefault("al", [None] * h["history_size"])
                if len(al) < num_old:
                    al.extend([None] * (num_old - len(al)))
                q = _clone(flat_grad)
                V.scale_(q, -1.0)
                for i in range(num_old - 1, -1, -1):
                    al[i] = V.dot(old_stps[i], q) * ro[i]
                    V.axpy_(-al[i], old_dirs[i], q)
                V.scale_(q, H_diag)
                d = q
                for i in range(num_old):
                    be_i = V.dot(old_dirs[i], d) * ro[i]
                    V.axpy_(al[i] - be_i, old_stps[i], d)
            if prev_flat_grad is None:
                prev_flat_grad = _clone(flat_grad)
            else:
                V.copy_(prev_flat_grad, flat_grad)
            prev_loss = loss

            # ---- step length
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / global_norm(flat_grad, 1.0)) * lr
            else:
                t = lr
            gtd = V.dot(flat_grad, d)
            if gtd > -tol_change:
                reason = "tolerance_change"
                break

            ls_func_evals = 0
            opt_cond = False
            if h["line_search_fn"] is not None:
                x_init = _clone(params)

                def obj(step: float, x_init: list[np.ndarray] = x_init,
                        d: list[np.ndarray] = d) -> tuple[float, float, Any]:
                    V.axpy_(step, d, params)
                    try:
                        f_new, g_new = self._evaluate(closure)
                    finally:
                        V.copy_(params, x_init)
                    return (math.inf if f_new != f_new else f_new), V.dot(g_new, d), g_new

                loss, flat_grad, t, ls_func_evals = strong_wolfe(
                    obj, t, loss, gtd, flat_grad, global_norm(d, math.inf),
                    max_ls=max_eval - current_evals)
                V.axpy_(t, d, params)
                opt_cond = global_norm(flat_grad, math.inf) <= tol_grad
            else:
                V.axpy_(t, d, params)
                if n_iter != max_iter:
                    loss, flat_grad = self._evaluate(closure)
                    ls_func_evals = 1
                    if not (math.isfinite(loss) and _base.all_finite(flat_grad)):
                        current_evals += 1
                        state["func_evals"] += 1
                        reason = "non_finite"
                        break
                    opt_cond = global_norm(flat_grad, math.inf) <= tol_grad
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # ---- stopping
            if n_iter == max_iter:
                reason = "max_iter"
                break
            if current_evals >= max_eval:
                reason = "max_eval"
                break
            if opt_cond:
                reason = "tolerance_grad"
                break
            if abs(t) * global_norm(d, math.inf) <= tol_change:
                reason = "tolerance_change"
                break
            if abs(loss - prev_loss) < tol_change:
                reason = "tolerance_change"
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        self._finish(loss, n_iter, current_evals, flat_grad, reason or "max_iter")
        return orig[0]

    def state_dict(self) -> dict:
        """As torch.optim.LBFGS's: each vector one flat array over the params in order."""
        sd = super().state_dict()
        sd["state"] = {k: lbfgs_state_to_flat(v) for k, v in sd["state"].items()}
        return sd

    def _check_state(self, entry: dict[str, Any], label: str) -> dict[str, Any]:
        # torch's layout (flat vectors, 0-d tensors) or ours (lists of arrays, floats)
        entry = lbfgs_state_from_flat(super()._check_state(entry, label), self._params, label)
        shapes = [p.shape for p in self._params]

        def vec(v: Any, what: str) -> list[np.ndarray]:
            if not isinstance(v, (list, tuple)) or len(v) != len(shapes) or any(
                    not isinstance(a, np.ndarray) or a.shape != s for a, s in zip(v, shapes)):
                raise ValueError(f"{label}[{what}]: expected a list of arrays shaped like the "
                                 "params")
            return [np.array(a, dtype=p.dtype, order="C") for a, p in zip(v, self._params)]

        for name in ("d", "prev_flat_grad"):
            if entry.get(name) is not None:
                entry[name] = vec(entry[name], repr(name))
        for name in ("old_dirs", "old_stps"):
            if entry.get(name) is not None:
                entry[name] = [vec(v, f"{name!r}][{k}") for k, v in enumerate(entry[name])]
        if len(entry.get("old_dirs") or ()) != len(entry.get("old_stps") or ()) or \
                len(entry.get("old_dirs") or ()) != len(entry.get("ro") or ()):
            raise ValueError(f"{label}: 'old_dirs', 'old_stps' and 'ro' differ in length")
        return entry


def _clone(xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Fresh C-contiguous copies (own memory: closures may reuse their grad arrays)."""
    out = [np.empty_like(x, order="C") for x in xs]
    V.copy_(out, xs)
    return out
