"""Second-order and quasi-Newton methods, driven by a closure that re-evaluates the model:

* :class:`Newton` -- Newton's method over all params as one flat vector, with a dense
  Hessian (Cholesky, Levenberg damping when it is not positive definite) or a
  Hessian-vector product (Newton-CG / Hessian-free, truncated conjugate gradients);
* :class:`DiagonalNewton` -- per-coordinate optimal steps 1/H_ii from a diagonal Hessian,
  one fused native call;
* :class:`LBFGS` -- torch.optim.LBFGS's algorithm, keywords and iterates, its vector work
  fused over all arrays (:mod:`fusedoptim.vector`).

After each ``step(closure)``, ``opt.info`` holds ``iterations``, ``function_evaluations``,
``loss``, ``grad_norm`` (L2 over all params), ``grad_max_abs`` (what tolerance_grad is
compared with), ``reason`` (one of "tolerance_grad", "tolerance_change", "max_iter",
"max_eval", "non_finite", "line_search_failed") and ``converged``.
"""
from .diagonal import DiagonalNewton
from .lbfgs import LBFGS
from .newton import Newton

__all__ = ["Newton", "DiagonalNewton", "LBFGS"]
