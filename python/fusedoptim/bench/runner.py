"""Runs the benchmark: workloads x dtypes x thread counts x optimizers, each timed
across every implementation in one interleaved measurement. Produces plain rows
(dicts) that report.py turns into a table, JSON and a chart."""
from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import impls as I
from . import memory
from .plan import DEFAULT_MAX_VALUES, size_plan
from .timing import interleaved, summary
from .workloads import WORKLOADS, bytes_per_value, numel, scaled

#: a row whose step beats the same-arrays roofline by more than this is a measurement
#: problem, not a result: flagged "suspect" and never counted as meeting a target
SUSPECT_ABOVE = 1.05

#: a measurement is allocated only if its estimated arrays fit in this share of the
#: memory available just before (the rest: the estimate's error, other processes)
FIT_SHARE = 0.9


@dataclass
class Config:
    optimizers: list = field(default_factory=lambda: ["adam", "adamw", "sgd-momentum"])
    workloads: list = field(default_factory=lambda: list(WORKLOADS))
    dtypes: list = field(default_factory=lambda: ["float32"])
    threads: list = field(default_factory=lambda: [1, 2])
    implementations: list = field(default_factory=lambda: list(I.DEFAULT_IMPLEMENTATIONS))
    repeats: int = 7
    scale: float = 1.0            # shrink every workload (quick mode)
    max_values: int = DEFAULT_MAX_VALUES  # the largest measurement (values); bigger: left out
    sweep: bool = True
    sweep_max: float | None = None  # the sweep's largest size; None: max_values
    sweep_optimizers: list = field(default_factory=lambda: ["adam", "sgd-momentum"])
    overhead: bool = True
    seed: int = 0
    device: str = "cpu"           # "cuda": the GPU implementations of bench/device.py


class Progress:
    """A one-line progress bar on stderr (no dependency)."""

    def __init__(self, total: int, enabled: bool = True):
        self.total, self.done, self.t0 = max(total, 1), 0, time.perf_counter()
        self.enabled = enabled and sys.stderr.isatty()

    def advance(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        frac = self.done / self.total
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        sys.stderr.write(f"\r[{bar}] {self.done}/{self.total} {time.perf_counter() - self.t0:5.0f}s "
                         f"{label[:40]:<40}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _normal(rng, shape, dtype, scale=1.0):
    # Drawn in the benchmark's dtype: no float64 temporary of the largest tensor.
    if dtype in (np.float32, np.float64):
        x = rng.standard_normal(shape, dtype=dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    if scale != 1.0:
        x *= scale
    return x


def _data(shapes, dtype, rng):
    params = [_normal(rng, s, dtype) for s in shapes]
    grads = [_normal(rng, s, dtype, 1e-2) for s in shapes]
    return params, grads


def _rows(context, samples, n_values, bpv):
    rows = []
    roof = summary(samples["roofline"])["median"] if "roofline" in samples else None
    for impl, s in samples.items():
        st = summary(s)
        frac = (roof / st["median"]) if roof else None
        rows.append(dict(context, impl=impl, n_values=n_values, bytes_per_value=bpv,
                         ms=st["median"] * 1e3, ms_p25=st["p25"] * 1e3, ms_p75=st["p75"] * 1e3,
                         ns_per_value=st["median"] * 1e9 / max(n_values, 1),
                         gb_per_s=n_values * bpv / st["median"] / 1e9,
                         roofline_fraction=frac,
                         suspect=frac is not None and frac > SUSPECT_ABOVE,
                         samples_ms=[x * 1e3 for x in s]))
    return rows


class _Side:
    """The implementations, thread control and wait of one side (CPU or GPU)."""

    def __init__(self, cfg, tools):
        self.tools = None
        self.impls, self.sync = I.IMPLEMENTATIONS, (lambda: None)
        if cfg.device == "cuda":
            from . import device
            self.tools = tools or device.cuda_tools()
            self.impls, self.sync = device.implementations(self.tools), self.tools.synchronize

    def set_threads(self, n):
        if self.tools is None:
            I.set_threads(n)


def _step_fns(side, key, shapes, dtype, rng, implementations):
    params, grads = _data(shapes, dtype, rng)
    fns, shared = {}, {}
    for name in implementations:
        factory = side.impls.get(name)
        fn = factory(key, params, grads, shared) if factory else None
        if fn is not None:
            fns[name] = fn
    return fns


def _measure(side, key, shapes, dtype, rng, implementations, repeats):
    fns = _step_fns(side, key, shapes, dtype, rng, implementations)
    samples = interleaved(fns, repeats, sync=side.sync)
    del fns
    gc.collect()
    memory.release_freed()  # the next measurement starts from the process alone
    return samples


def _host_rows(side, cfg, rng, bar):
    """GPU runs: the host's time per step call (launches only) on each workload."""
    from .device import host_time
    rows = []
    impls = [i for i in ("fusedoptim", "torch-fused") if i in cfg.implementations]
    for wl in cfg.workloads:
        shapes = WORKLOADS[wl]() if cfg.scale == 1.0 else scaled(WORKLOADS[wl](), cfg.scale)
        for key in cfg.optimizers:
            fns = _step_fns(side, key, shapes, np.dtype("float32"), rng, impls)
            for name, fn in fns.items():
                s = host_time(fn, side.sync, rounds=cfg.repeats)
                st = summary(s)
                rows.append(dict(workload=f"host-{wl}", dtype="float32", threads=1,
                                 optimizer=key, impl=name, n_values=numel(shapes),
                                 us=st["median"] * 1e6, us_p25=st["p25"] * 1e6,
                                 us_p75=st["p75"] * 1e6, samples_us=[x * 1e6 for x in s]))
            del fns
            gc.collect()
            bar.advance(f"host {wl} {key}")
    return rows


def _fits(m, say) -> bool:
    """Checks the memory available just before a measurement allocates its arrays."""
    avail = memory.available_bytes()
    if avail is None or m.array_bytes <= FIT_SHARE * avail:
        return True
    say(f"skipped {m.label} ({m.n_values:,} values): needs about {m.array_bytes / 1e9:.2f} GB, "
        f"{avail / 1e9:.2f} GB of memory available")
    return False


def run(cfg: Config, progress: bool = True, tools=None) -> dict:
    """All measurements of ``cfg``'s size plan (bench/plan.py): {"rows": [...],
    "sweep": [...], "overhead": [...], "plan": [...], "skipped": [...]} (GPU runs:
    "host" too, the host time per step call, and "device", its name).
    ``tools``: a bench.device.DeviceTools to use instead of CuPy (the tests' emulation).

    A measurement that does not fit the memory available when its turn comes is
    skipped, saying so on stdout and in "skipped". "plan" holds each measurement's
    estimated bytes, its seconds and, where the system tells, the process's peak
    resident size so far and how far this measurement raised it (to check the
    estimate)."""
    side = _Side(cfg, tools)
    rng = np.random.default_rng(cfg.seed)
    plan = size_plan(cfg)
    total = len(plan.measurements)
    if side.tools is not None:
        total += len(cfg.workloads) * len(cfg.optimizers)
    bar = Progress(total, progress)
    out: dict[str, Any] = {"rows": [], "sweep": [], "overhead": [], "host": [], "plan": [],
           "skipped": [], "left_out": list(plan.left_out),
           "device": side.tools.name if side.tools else None}

    def say(text):
        out["skipped"].append(text)
        print(("\n" if bar.enabled else "") + text, flush=True)

    try:
        for m in plan.measurements:
            if _fits(m, say):
                side.set_threads(m.threads)
                base, peak_before = memory.rss_bytes(), memory.peak_rss_bytes()
                t0 = time.perf_counter()
                samples = _measure(side, m.optimizer, m.shapes, np.dtype(m.dtype), rng,
                                   m.implementations, m.repeats)
                peak = memory.peak_rss_bytes()
                # measured_bytes: how far above its size before this measurement the
                # process's resident size rose, known only where this measurement set a
                # new peak (the peak is the whole run's, never reset); else None.
                known = (None not in (base, peak, peak_before)
                         and peak > peak_before)  # type: ignore[operator]
                grew = peak - base if known else None  # type: ignore[operator]
                out["plan"].append(dict(label=m.label, n_values=m.n_values,
                                        estimated_bytes=m.array_bytes, measured_bytes=grew,
                                        peak_rss_bytes=peak, seconds=time.perf_counter() - t0))
                ctx = dict(workload=m.workload, dtype=m.dtype, threads=m.threads,
                           optimizer=m.optimizer)
                out[m.section] += _rows(ctx, samples, m.n_values,
                                        bytes_per_value(m.optimizer, np.dtype(m.dtype).itemsize,
                                                        m.shapes))
            bar.advance(m.label)
        if side.tools is not None:
            out["host"] = _host_rows(side, cfg, rng, bar)
    finally:
        bar.close()
    return out
