"""``paths``: the lectures' picture. The paths that gradient descent, momentum,
Nesterov, Adagrad, RMSprop, Adam, Rprop and Newton's method take on 2-D test functions, drawn
over contour plots, with a table of how many steps each needs.

Each optimizer updates one float64 array of two elements, ``p = [x, y]``, with
the function's analytic gradient, for ``--steps`` steps. The functions:

- canyon: ``(x² + 25 y²) / 2``, an ill-conditioned quadratic (condition number
  25): a step size that suits y is too small for x. Minimum (0, 0).
- rosenbrock: ``(1 - x)² + 100 (y - x²)²``, a curved, flat-bottomed valley.
  Minimum (1, 1).
- beale: ``(1.5 - x + xy)² + (2.25 - x + xy²)² + (2.625 - x + xy³)²``, flat
  plateaus and steep walls. Minimum (3, 0.5).
- saddle: ``x² - y²``, which has no minimum: starting next to the saddle point's
  stable direction, the question is how soon a method escapes it (gets below
  ``f = -1``, i.e. ``|y| >= 1``).

Hyperparameters are chosen per function (torch's defaults otherwise), as one
would tune them. Output: ``paths_<function>.png`` per function in ``--out``
(matplotlib) and a table on stdout.

Newton's method (fusedoptim.Newton, with the analytic Hessian) is drawn beside
them. To add a method, append a :class:`Method` to ``METHODS``: ``make(p, fn,
hyper)`` returns a function that does one step on ``p`` in place; ``fn`` gives
``grad`` and ``hess``.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

import numpy as np

HELP = ("paths of GD, momentum, Nesterov, Adagrad, RMSprop, Adam, Rprop and Newton on 2-D "
        "test functions: contour plots and a table of steps to the minimum")

STEPS = 1000
TOL = 1e-3
ESCAPE = -1.0  # the saddle: escaped once f(p) <= ESCAPE
DIVERGED = 1e6  # |p| beyond this: diverged, the run stops


@dataclasses.dataclass(frozen=True)
class Function2D:
    name: str
    formula: str
    f: Callable      # f(x, y), elementwise over arrays (the contour grid) or scalars
    grad: Callable   # grad(p) -> array of 2
    hess: Callable   # hess(p) -> 2x2 array (for second-order methods)
    start: tuple
    minimum: tuple | None   # None: no minimum (the saddle), measure the escape instead
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    log_levels: bool        # contour levels spaced in log(f - min) (valleys) or linearly
    hyper: dict             # method label -> optimizer keywords
    saddle: tuple | None = None  # a saddle point to mark on the plot


def _canyon():
    k = 25.0
    return Function2D(
        "canyon", "(x^2 + 25 y^2) / 2",
        lambda x, y: 0.5 * (x * x + k * y * y),
        lambda p: np.array([p[0], k * p[1]]),
        lambda p: np.diag([1.0, k]),
        start=(-9.0, 1.5), minimum=(0.0, 0.0), xlim=(-10, 2), ylim=(-2.5, 2.5),
        log_levels=True,
        hyper={"GD": dict(lr=0.075), "Momentum": dict(lr=0.05, momentum=0.6),
               "Nesterov": dict(lr=0.05, momentum=0.6),
               "Adagrad": dict(lr=2.0), "RMSprop": dict(lr=0.02), "Adam": dict(lr=0.2),
               "Rprop": dict(lr=0.1)})


def _rosenbrock():
    def grad(p):
        x, y = p
        return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])

    def hess(p):
        x, y = p
        return np.array([[2 - 400 * (y - 3 * x * x), -400 * x], [-400 * x, 200.0]])

    return Function2D(
        "rosenbrock", "(1 - x)^2 + 100 (y - x^2)^2",
        lambda x, y: (1 - x) ** 2 + 100 * (y - x * x) ** 2, grad, hess,
        start=(-1.2, 1.0), minimum=(1.0, 1.0), xlim=(-2, 2), ylim=(-1, 3), log_levels=True,
        hyper={"GD": dict(lr=2e-3), "Momentum": dict(lr=2e-3), "Nesterov": dict(lr=1e-3),
               "Adagrad": dict(lr=1.0), "RMSprop": dict(lr=0.01), "Adam": dict(lr=0.2),
               "Rprop": dict(lr=0.01)})


def _beale():
    c = (1.5, 2.25, 2.625)

    def terms(p):
        x, y = p
        r = np.array([c[k] - x + x * y ** (k + 1) for k in range(3)])
        dx = np.array([y ** (k + 1) - 1 for k in range(3)])     # dr_k/dx
        dy = np.array([(k + 1) * x * y ** k for k in range(3)])  # dr_k/dy
        return r, dx, dy

    def grad(p):
        r, dx, dy = terms(p)
        return 2 * np.array([r @ dx, r @ dy])

    def hess(p):
        x, y = p
        r, dx, dy = terms(p)
        dxy = np.array([(k + 1) * y ** k for k in range(3)])
        dyy = np.array([k * (k + 1) * x * y ** (k - 1) if k else 0.0 for k in range(3)])
        return 2 * np.array([[dx @ dx, dx @ dy + r @ dxy], [dx @ dy + r @ dxy, dy @ dy + r @ dyy]])

    return Function2D(
        "beale", "(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        lambda x, y: sum((ck - x + x * y ** (k + 1)) ** 2 for k, ck in enumerate(c)),
        grad, hess, start=(1.0, 1.5), minimum=(3.0, 0.5), xlim=(-1, 4), ylim=(-1.5, 2),
        log_levels=True,
        hyper={"GD": dict(lr=0.01), "Momentum": dict(lr=5e-3), "Nesterov": dict(lr=5e-3),
               "Adagrad": dict(lr=1.0), "RMSprop": dict(lr=0.01), "Adam": dict(lr=0.1),
               "Rprop": dict(lr=0.01)})


def _saddle():
    return Function2D(
        "saddle", "x^2 - y^2",
        lambda x, y: x * x - y * y,
        lambda p: np.array([2 * p[0], -2 * p[1]]),
        lambda p: np.diag([2.0, -2.0]),
        start=(1.0, 1e-3), minimum=None, saddle=(0.0, 0.0), xlim=(-1.5, 1.5), ylim=(-0.5, 1.5),
        log_levels=False,
        hyper={m: dict(lr=0.01) for m in
               ("GD", "Momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "Rprop")})


FUNCTIONS = [_canyon(), _rosenbrock(), _beale(), _saddle()]


@dataclasses.dataclass(frozen=True)
class Method:
    label: str
    #: make(p, fn, hyper) -> step(): one update of the float64 array p (2 elements) in place
    make: Callable
    color: str


def _first_order(name, **fixed):
    """A fusedoptim optimizer on [p], stepped with the analytic gradient."""
    def make(p, fn, hyper):
        import fusedoptim

        opt = getattr(fusedoptim, name)([p], **{**fixed, **hyper})
        return lambda: opt.step([fn.grad(p)])
    return make


def _newton(p, fn, hyper):
    """fusedoptim.Newton with the analytic Hessian: the full step where H is positive
    definite, a damped one elsewhere (which is what lets it leave the saddle)."""
    import fusedoptim

    opt = fusedoptim.Newton([p], **hyper)
    return lambda: opt.step(lambda: (float(fn.f(*p)), [fn.grad(p)], fn.hess(p)))


#: the methods drawn, in the legend's order; one entry per method.
METHODS = [
    Method("GD", _first_order("SGD"), "tab:blue"),
    Method("Momentum", _first_order("SGD", momentum=0.9), "tab:orange"),
    Method("Nesterov", _first_order("SGD", momentum=0.9, nesterov=True), "tab:green"),
    Method("Adagrad", _first_order("Adagrad"), "tab:red"),
    Method("RMSprop", _first_order("RMSprop"), "tab:purple"),
    Method("Adam", _first_order("Adam"), "tab:brown"),
    Method("Rprop", _first_order("Rprop"), "tab:pink"),
    Method("Newton", _newton, "black"),
]


def add_arguments(p) -> None:
    p.add_argument("--out", default="paths-out",
                   help="folder of the PNGs, paths_<function>.png (default paths-out)")
    p.add_argument("--steps", type=int, default=STEPS,
                   help=f"steps per optimizer and function (default {STEPS})")
    p.add_argument("--tol", type=float, default=TOL,
                   help=f"'at the minimum': within this distance of it (default {TOL:g})")


def trace(method: Method, fn: Function2D, steps: int):
    """The path: an array of shape (k + 1, 2), the start and every point reached
    (fewer than steps + 1 rows if it diverged)."""
    p = np.array(fn.start, dtype=np.float64)
    step = method.make(p, fn, fn.hyper.get(method.label, {}))
    path = [p.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            step()
            path.append(p.copy())
            if not (np.all(np.isfinite(p)) and np.abs(p).max() < DIVERGED):
                break
    return np.array(path)


def outcome(fn: Function2D, path, steps: int, tol: float) -> tuple[int | None, str]:
    """(steps needed or None, the table's cell). With a minimum: the first step
    from which the path stays within ``tol`` of it to the end. The saddle: the
    first step at which f <= ESCAPE."""
    if fn.minimum is None:  # escaping, it may run off to infinity afterwards: no matter
        with np.errstate(over="ignore", invalid="ignore"):
            below = np.nonzero(fn.f(path[:, 0], path[:, 1]) <= ESCAPE)[0]
        if len(below):
            return int(below[0]), str(below[0])
    if len(path) < steps + 1:
        return None, f"diverged ({len(path) - 1})"
    if fn.minimum is None:
        return None, "did not"
    dist = np.linalg.norm(path - np.array(fn.minimum), axis=1)
    if dist[-1] > tol:
        return None, f"did not ({dist[-1]:.2g})"
    outside = np.nonzero(dist > tol)[0]
    k = int(outside[-1]) + 1 if len(outside) else 0
    return k, str(k)


def plot(fn: Function2D, paths: dict, path_png: str, steps: int) -> bool:
    """Contours of fn with every method's path. Returns False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    xs, ys = np.linspace(*fn.xlim, 400), np.linspace(*fn.ylim, 400)
    gx, gy = np.meshgrid(xs, ys)
    z = fn.f(gx, gy)
    fig, ax = plt.subplots(figsize=(8, 6.4))
    if fn.log_levels:
        fmin = fn.f(*fn.minimum)  # type: ignore[misc]  # log_levels: there is a minimum
        levels = fmin + np.logspace(-3, np.log10(z.max() - fmin), 25)
        ax.contour(gx, gy, z, levels=levels, cmap="Greys_r", linewidths=0.6, alpha=0.8)
    else:
        ax.contour(gx, gy, z, levels=25, cmap="Greys_r", linewidths=0.6, alpha=0.8)
    for method in METHODS:
        path = paths[method.label]
        path = path[np.isfinite(path).all(axis=1)]  # a diverged run's last point may be inf
        ax.plot(path[:, 0], path[:, 1], "-", color=method.color, lw=1.4, label=method.label)
        ax.plot(path[-1, 0], path[-1, 1], "o", color=method.color, ms=4)
    ax.plot(*fn.start, "ks", ms=6, label="start")
    if fn.minimum is not None:
        ax.plot(*fn.minimum, "k*", ms=14, label="minimum")
    if fn.saddle is not None:
        ax.plot(*fn.saddle, "kX", ms=10, label="saddle point")
    ax.set(xlim=fn.xlim, ylim=fn.ylim, xlabel="x", ylabel="y",
           title=f"{fn.name}: f = {fn.formula}\n{steps} steps, same start for every method")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path_png, dpi=100)
    plt.close(fig)
    return True


def run(args) -> int:
    import sys

    if args.steps < 1:
        print(f"fusedoptim paths: --steps must be at least 1, got {args.steps}", file=sys.stderr)
        return 2
    if not args.tol > 0:
        print(f"fusedoptim paths: --tol must be positive, got {args.tol}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    cells, pngs, plotted = {}, [], True
    for fn in FUNCTIONS:
        paths = {m.label: trace(m, fn, args.steps) for m in METHODS}
        for label, path in paths.items():
            cells[label, fn.name] = outcome(fn, path, args.steps, args.tol)[1]
        png = os.path.join(args.out, f"paths_{fn.name}.png")
        if plotted and plot(fn, paths, png, args.steps):
            pngs.append(png)
        else:
            plotted = False

    names = [fn.name if fn.minimum is not None else f"{fn.name} (escape)" for fn in FUNCTIONS]
    width = max(14, *(len(n) + 2 for n in names))
    print(f"steps until within {args.tol:g} of the minimum for good (of {args.steps}); "
          f"the saddle: steps until f <= {ESCAPE:g}.\n"
          "'did not (d)': still at distance d at the end.")
    header = f"{'method':<10}" + "".join(f"{n:>{width}}" for n in names)
    print(header + "\n" + "-" * len(header))
    for m in METHODS:
        print(f"{m.label:<10}" + "".join(f"{cells[m.label, fn.name]:>{width}}"
                                         for fn in FUNCTIONS))
    print("\nhyperparameters (GD, Momentum and Nesterov are fusedoptim.SGD, the last two with "
          "momentum=0.9 unless given; torch's defaults for the rest; Newton is fusedoptim.Newton):")
    for fn in FUNCTIONS:
        print(f"  {fn.name}: " + "; ".join(
            f"{m.label} " + (", ".join(f"{k}={v}" for k, v in fn.hyper.get(m.label, {}).items())
                             or "defaults")
            for m in METHODS))
    if plotted:
        print("\ncontour plots: " + ", ".join(pngs))
    else:
        print("\ncontour plots: skipped (matplotlib is not installed: pip install matplotlib, "
              "or fusedoptim[demo])")
    return 0
