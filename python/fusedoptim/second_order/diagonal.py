"""Per-coordinate optimal steps from a diagonal Hessian, one fused native call for all groups."""
from __future__ import annotations

import math
from typing import Any

from .. import _backends
from .. import vector as V
from .._typing import Closure, Hyper, Label, ParamGroup, Params
from . import _base


class DiagonalNewton(_base.ClosureOptimizer):
    r"""Newton's method with a diagonal Hessian: each coordinate takes its own optimal
    step :math:`\eta_i = 1/E''_i = 1/H_{ii}`,

    .. math::
        \theta_i \leftarrow \theta_i - \mathrm{lr}\cdot
            \frac{g_i}{\max(|H_{ii}|,\ \mathrm{min\_curvature})}

    safeguarded: negative curvature counts by its magnitude (the step still goes
    downhill, never towards a maximum) and curvature below ``min_curvature`` is
    floored there (the step stays finite). With lr = 1 one step minimizes a separable
    quadratic :math:`\sum_i \tfrac12 h_i (\theta_i - c_i)^2` exactly.

    ``step(closure)``: the closure evaluates the model at the params and returns
    ``(loss, grads, hess_diags)``, grads and hess_diags aligned with the params (lists,
    or dicts with their keys) and shaped like them. The update is one fused native
    call for all param groups (:func:`fusedoptim.vector.diag_newton_`'s kernel, one work
    per group); param groups may set their own lr and min_curvature. Non-finite grads or
    curvatures, and any bad array of any group, raise before anything changes. ``opt.info`` after each step: one iteration, one function
    evaluation, the gradient norm (at the point evaluated) and reason "max_iter".
    """

    _single_group = False

    def __init__(self, params: Params, lr: float = 1.0, min_curvature: float = 1e-8) -> None:
        super().__init__(params, dict(lr=lr, min_curvature=min_curvature))

    def _check_group(self, group: ParamGroup, label: Label) -> Hyper:
        h = dict(lr=_base.nonneg(label("lr"), group["lr"]),
                 min_curvature=_base.nonneg(label("min_curvature"), group["min_curvature"]))
        if not (h["min_curvature"] > 0 and math.isfinite(h["min_curvature"])):
            raise ValueError(f"{label('min_curvature')}: must be > 0 and finite, got "
                             f"{group['min_curvature']!r}")
        if math.isinf(h["lr"]):
            raise ValueError(f"{label('lr')}: must be finite, got {group['lr']!r}")
        return h

    @_base.one_at_a_time
    def step(self, closure: Closure) -> Any:
        """One per-coordinate Newton step; returns the closure's loss."""
        _base.check_closure(closure)
        hs = [self._hparams(gi) for gi in range(len(self.param_groups))]
        out = self._call(closure, 3, "(loss, grads, hess_diags)")
        loss = self._loss(out[0], finite=False)
        grads = self._arrays(out[1], "grads", copy_=False)
        hess = self._arrays(out[2], "hess_diags", copy_=False)
        self._check_finite(grads, "grads")
        self._check_finite(hess, "hess_diags")
        # One work per group, all run by one native call: every array of every group
        # (aliasing across groups included) is checked before any param changes.
        works, start = [], 0
        for group, h in zip(self.param_groups, hs):
            n = len(group["params"])
            if n:
                sl = slice(start, start + n)
                works.append(V.diag_newton_work(group["params"], grads[sl], hess[sl], lr=h["lr"],
                                                min_curvature=h["min_curvature"],
                                                names=[str(i) for i in range(start, start + n)]))
            start += n
        if works:
            _backends.run(works)
        state = self._global()
        state["func_evals"] += 1
        state["n_iter"] += 1
        self._finish(loss, 1, 1, grads, "max_iter")
        return out[0]

