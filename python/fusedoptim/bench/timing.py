"""Interleaved timing: every implementation is timed in turn, round after round, so
that the machine's noise falls on all of them alike."""
from __future__ import annotations

import math
import statistics
import time


def _nothing():
    pass


def calibrate(fn, target_s: float, sync=_nothing) -> int:
    """How many calls make one sample of at least ``target_s`` (tiny steps need many)."""
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    dt = time.perf_counter() - t0
    return max(1, min(100000, math.ceil(target_s / max(dt, 1e-7))))


def interleaved(fns: dict, repeats: int, target_s: float = 0.02, warmup: int = 2,
                settle_s: float = 0.01, sync=_nothing) -> dict:
    """Seconds per call of each function: {name: [sample, ...]} over ``repeats`` rounds.

    A sample repeats a call until it lasts ``target_s`` (20 ms: long enough that a
    core waking from the pause below is a small part of it).

    Between two samples the process sleeps ``settle_s``: OpenMP runtimes (ours and
    the one inside torch) keep their threads spinning for milliseconds after a
    parallel region, and a spinning thread of the previous implementation would
    take a core from the next one.

    ``sync`` waits for asynchronous work (a GPU's): called before a sample starts and
    before it ends, so a sample holds the device's time for its calls.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    inner = {name: calibrate(fn, target_s, sync) for name, fn in fns.items()}
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            n = inner[name]
            sync()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            sync()
            samples[name].append((time.perf_counter() - t0) / n)
            time.sleep(settle_s)
    return samples


def summary(samples: list) -> dict:
    """Median and quartiles in seconds."""
    s = sorted(samples)
    if len(s) >= 4:
        q = statistics.quantiles(s, n=4)
        p25, p75 = q[0], q[2]
    else:
        p25, p75 = s[0], s[-1]
    return {"median": statistics.median(s), "p25": p25, "p75": p75, "min": s[0], "n": len(s)}
