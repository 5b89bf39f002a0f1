r"""Line searches along a direction d from the current point x, on the scalar function
:math:`\phi(t) = f(x + t d)` with :math:`\phi'(t) = \nabla f(x + t d)^\top d`.

``strong_wolfe`` is the bracketing + zoom search of torch.optim.LBFGS (after minFunc's
``lswolfe``): it returns a step t with

.. math::
    \phi(t) \le \phi(0) + c_1 t \phi'(0) \quad\text{(sufficient decrease, Armijo)}, \qquad
    |\phi'(t)| \le -c_2 \phi'(0) \quad\text{(curvature)}

or the best point seen when it runs out of evaluations, trial steps chosen by cubic
interpolation. Same decisions as torch, step for step, so L-BFGS's iterates match its
own. ``backtracking`` halves t until the Armijo condition holds.

The caller's ``obj(t)`` evaluates the model at x + t d and returns
``(phi(t), phi'(t), aux)``; ``aux`` (gradients, Hessian, ...) travels with its point and
comes back with the accepted one.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def cubic_interpolate(x1: float, f1: float, g1: float, x2: float, f2: float, g2: float,
                      bounds: tuple[float, float] | None = None) -> float:
    r"""The minimizer of the cubic through (x1, f1, f1'=g1) and (x2, f2, f2'=g2), clamped
    to ``bounds`` (default [min(x1, x2), max(x1, x2)]):

    .. math::
        d_1 = g_1 + g_2 - 3\frac{f_1 - f_2}{x_1 - x_2}, \quad d_2 = \sqrt{d_1^2 - g_1 g_2},
        \quad t = x_2 - (x_2 - x_1)\frac{g_2 + d_2 - d_1}{g_2 - g_1 + 2 d_2}

    (for x1 <= x2; mirrored otherwise). Without a real minimizer (d1^2 < g1 g2), or when
    the values are not finite, the middle of the bounds.
    """
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    x1, f1, g1, x2, f2, g2 = (np.float64(v) for v in (x1, f1, g1, x2, f2, g2))
    with np.errstate(all="ignore"):  # inf/NaN as with tensors, never an exception
        d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
        d2_square = d1 ** 2 - g1 * g2
        if d2_square >= 0:
            d2 = np.sqrt(d2_square)
            if x1 <= x2:
                t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
            else:
                t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
            if math.isfinite(t):  # (torch would carry a NaN on: only non-finite input gets here)
                return float(min(max(t, lo), hi))
    return (lo + hi) / 2.0


def strong_wolfe(obj: Callable[[float], tuple[float, float, Any]], t: float, f: float, gtd: float,
                 aux: Any, d_norm: float, c1: float = 1e-4, c2: float = 0.9,
                 tolerance_change: float = 1e-9, max_ls: int = 25) -> tuple[float, Any, float, int]:
    """Strong-Wolfe line search from phi(0) = ``f``, phi'(0) = ``gtd`` < 0 (``aux`` the
    starting point's payload), first trial step ``t``; ``d_norm`` = max|d|, used to stop
    when the bracket is narrower than ``tolerance_change`` in x. At most ``max_ls``
    evaluations after the first. Returns (f, aux, t, evaluations)."""
    f_new, gtd_new, aux_new = obj(t)
    evals = 1
    t_prev: float
    t_prev, f_prev, gtd_prev, aux_prev = 0, f, gtd, aux
    done = False
    ls_iter = 0
    # bracketing phase: find an interval containing a point that satisfies the conditions
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            br, br_f, br_g, br_a = [t_prev, t], [f_prev, f_new], [gtd_prev, gtd_new], \
                [aux_prev, aux_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, br_a = [t], [f_new], [gtd_new], [aux_new]
            done = True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_a = [t_prev, t], [f_prev, f_new], [gtd_prev, gtd_new], \
                [aux_prev, aux_new]
            break
        # extrapolate: a cubic step within [t + 0.01 (t - t_prev), 10 t]
        min_step, max_step = t + 0.01 * (t - t_prev), t * 10
        tmp = t
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                              bounds=(min_step, max_step))
        t_prev, f_prev, gtd_prev, aux_prev = tmp, f_new, gtd_new, aux_new
        f_new, gtd_new, aux_new = obj(t)
        evals += 1
        ls_iter += 1
    if ls_iter == max_ls:
        br, br_f, br_g, br_a = [0, t], [f, f_new], [gtd, gtd_new], [aux, aux_new]

    # zoom phase: shrink the bracket until a point satisfies the conditions
    insuf_progress = False
    low, high = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = cubic_interpolate(br[0], br_f[0], br_g[0], br[1], br_f[1], br_g[1])
        # too close to an end of the bracket twice in a row (or outside it): move to 10%
        # of its width from the nearest end
        hi_b, lo_b = max(br), min(br)
        eps = 0.1 * (hi_b - lo_b)
        if min(hi_b - t, t - lo_b) < eps:
            if insuf_progress or t >= hi_b or t <= lo_b:
                t = hi_b - eps if abs(t - hi_b) < abs(t - lo_b) else lo_b + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, gtd_new, aux_new = obj(t)
        evals += 1
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= br_f[low]:
            # no sufficient decrease, or not below the lowest point: new high end
            br[high], br_f[high], br_g[high], br_a[high] = t, f_new, gtd_new, aux_new
            low, high = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[high] - br[low]) >= 0:
                # the old low end becomes the high end
                br[high], br_f[high], br_g[high], br_a[high] = \
                    br[low], br_f[low], br_g[low], br_a[low]
            br[low], br_f[low], br_g[low], br_a[low] = t, f_new, gtd_new, aux_new
    return br_f[low], br_a[low], br[low], evals


def backtracking(obj: Callable[[float], tuple[float, float, Any]], t: float, f: float, gtd: float,
                 aux: Any, c1: float = 1e-4, shrink: float = 0.5,
                 max_ls: int = 25) -> tuple[float, Any, float, int]:
    """Armijo backtracking: the first of t, shrink t, shrink^2 t, ... with
    phi(t) <= phi(0) + c1 t phi'(0) (a non-finite phi(t) fails), at most ``max_ls``
    evaluations. Returns (f, aux, t, evaluations); t = 0 (and the start's f, aux)
    when no trial passed."""
    for k in range(max_ls):
        f_new, _, aux_new = obj(t)
        if math.isfinite(f_new) and f_new <= f + c1 * t * gtd:
            return f_new, aux_new, t, k + 1
        t *= shrink
    return f, aux, 0.0, max_ls
