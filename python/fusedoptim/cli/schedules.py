"""``schedules``: draw a representative set of learning-rate schedules (the lectures'
and optax's, from fusedoptim.schedules) against the step to a PNG. Needs matplotlib.
"""
from __future__ import annotations

import sys

HELP = "draw learning-rate schedules (the lectures' and optax's) against the step to a PNG"


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="schedules.png",
                        help="the PNG to write (default schedules.png)")
    parser.add_argument("--steps", type=int, default=1000,
                        help="steps drawn, 0 .. N-1 (default 1000)")


def representative(steps: int) -> dict:
    """name -> schedule: each family once, all starting from (or peaking at) 0.1."""
    from .. import schedules as S

    n = max(int(steps), 2)
    q = max(n // 4, 1)
    return {
        "step_decay (x0.5 every N/4)": S.step_decay_schedule(0.1, 0.5, q),
        "exponential_time_decay": S.exponential_time_decay_schedule(0.1, 4.0 / n),
        "inverse_time_decay (k=20/N)": S.inverse_time_decay_schedule(0.1, 20.0 / n),
        "inverse_linear_decay": S.inverse_linear_decay_schedule(0.1),
        "piecewise_constant (lectures)": S.piecewise_constant_schedule(
            [0.1, 0.05, 0.02, 0.005], [q, 2 * q, 3 * q]),
        "exponential_decay (staircase)": S.exponential_decay(0.1, q // 2 or 1, 0.6, staircase=True),
        "linear_schedule": S.linear_schedule(0.1, 0.0, n),
        "cosine_decay": S.cosine_decay_schedule(0.1, n, alpha=0.05),
        "warmup_cosine_decay": S.warmup_cosine_decay_schedule(0.0, 0.1, n // 10 or 1, n, 0.001),
        "cosine_onecycle": S.cosine_onecycle_schedule(n, 0.1),
        "linear_onecycle": S.linear_onecycle_schedule(n, 0.1),
        "sgdr (3 cycles)": S.sgdr_schedule(
            [dict(init_value=0.0, peak_value=0.1 / (k + 1), warmup_steps=n // 30 or 1,
                  decay_steps=max(n // 3, 2)) for k in range(3)]),
    }


def run(args) -> int:
    from ..schedules import plot_schedules

    if args.steps < 2:
        print("--steps: must be >= 2", file=sys.stderr)
        return 2
    try:
        plot_schedules(representative(args.steps), args.steps, args.out,
                       title=f"fusedoptim.schedules: lr against step, {args.steps} steps")
    except ImportError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"wrote {args.out}")
    return 0
