"""plot_schedules: learning rate against step for a few schedules, to a PNG. Needs
matplotlib (an optional extra), imported only when a plot is drawn."""
from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping, Sequence

from .._typing import LRSchedule
from ._checks import _step


def plot_schedules(schedules: Mapping[str, LRSchedule] | Iterable[tuple[str, LRSchedule]],
                   steps: int | Sequence[float], path: str | os.PathLike[str], *,
                   title: str | None = None) -> str | os.PathLike[str]:
    """Draw learning rate against step for each schedule to a PNG at ``path``.

    ``schedules``: a dict name -> callable, or a list of (name, callable) pairs.
    ``steps``: an int N (steps 0 .. N-1) or a sequence of steps. Needs matplotlib
    (an optional extra: ``pip install matplotlib``). Returns the path written.
    """
    if isinstance(schedules, Mapping):
        items = list(schedules.items())
    else:
        try:
            items = [(str(name), fn) for name, fn in schedules]
        except (TypeError, ValueError):
            raise TypeError("schedules: expected a dict name -> callable or a list of "
                            "(name, callable) pairs") from None
    if not items:
        raise ValueError("schedules: nothing to draw")
    for name, fn in items:
        if not callable(fn):
            raise TypeError(f"schedules[{name!r}]: expected a callable step -> value, got "
                            f"{type(fn).__name__}")
    if isinstance(steps, numbers.Integral) and not isinstance(steps, bool):
        if steps < 1:
            raise ValueError(f"steps: must be >= 1, got {steps!r}")
        xs: list[float] = list(range(int(steps)))
    else:
        xs = [_step(s) for s in steps]  # type: ignore[union-attr]  # not an int here
        if not xs:
            raise ValueError("steps: no steps to draw")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("plot_schedules needs matplotlib, an optional dependency: "
                          "pip install matplotlib (or pip install 'fusedoptim[bench]')") from exc
    fig = Figure(figsize=(9, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for i, (name, fn) in enumerate(items):  # past 10 the colours repeat: change the dash
        ax.plot(xs, [float(fn(x)) for x in xs], label=str(name), linewidth=1.5,
                linestyle=("-", "--", ":", "-.")[(i // 10) % 4])
    ax.set_xlabel("step t (updates already made)")
    ax.set_ylabel("learning rate")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    if title is not None:
        ax.set_title(str(title))
    fig.tight_layout()
    parent = os.path.dirname(os.fspath(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    fig.savefig(path, format="png")
    return path
