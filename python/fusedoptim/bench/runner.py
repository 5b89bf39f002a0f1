"""Runs the benchmark: workloads x dtypes x thread counts x optimizers, each timed
across every implementation in one interleaved measurement. Produces plain rows
(dicts) that report.py turns into a table, JSON and a chart."""
from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import impls as I
from .timing import interleaved, summary
from .workloads import WORKLOADS, bytes_per_value, numel, scaled, sweep_sizes


@dataclass
class Config:
    optimizers: list = field(default_factory=lambda: ["adam", "adamw", "sgd-momentum"])
    workloads: list = field(default_factory=lambda: list(WORKLOADS))
    dtypes: list = field(default_factory=lambda: ["float32"])
    threads: list = field(default_factory=lambda: [1, 2])
    implementations: list = field(default_factory=lambda: list(I.IMPLEMENTATIONS))
    repeats: int = 7
    scale: float = 1.0            # shrink every workload (quick mode)
    sweep: bool = True
    sweep_max: float = 1e8
    sweep_optimizers: list = field(default_factory=lambda: ["adam", "sgd-momentum"])
    overhead: bool = True
    seed: int = 0


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


def _data(shapes, dtype, rng):
    params = [rng.standard_normal(s, dtype=np.float64).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s, dtype=np.float64).astype(dtype) * 1e-2 for s in shapes]
    return params, grads


def _rows(context, samples, n_values, bpv):
    rows = []
    roof = summary(samples["roofline"])["median"] if "roofline" in samples else None
    for impl, s in samples.items():
        st = summary(s)
        rows.append(dict(context, impl=impl, n_values=n_values, bytes_per_value=bpv,
                         ms=st["median"] * 1e3, ms_p25=st["p25"] * 1e3, ms_p75=st["p75"] * 1e3,
                         ns_per_value=st["median"] * 1e9 / max(n_values, 1),
                         gb_per_s=n_values * bpv / st["median"] / 1e9,
                         roofline_fraction=(roof / st["median"]) if roof else None,
                         samples_ms=[x * 1e3 for x in s]))
    return rows


def _measure(cfg, key, shapes, dtype, rng, implementations, repeats):
    params, grads = _data(shapes, dtype, rng)
    fns = {}
    for name in implementations:
        fn = I.IMPLEMENTATIONS[name](key, params, grads)
        if fn is not None:
            fns[name] = fn
    del params, grads
    samples = interleaved(fns, repeats)
    del fns
    gc.collect()
    return samples


def run(cfg: Config, progress: bool = True) -> dict:
    """All measurements of ``cfg``: {"rows": [...], "sweep": [...], "overhead": [...]}."""
    rng = np.random.default_rng(cfg.seed)
    sizes = [n for n in sweep_sizes(1e2, cfg.sweep_max)] if cfg.sweep else []
    total = (len(cfg.workloads) * len(cfg.dtypes) * len(cfg.threads) * len(cfg.optimizers)
             + len(sizes) * len(cfg.sweep_optimizers) + (len(cfg.optimizers) if cfg.overhead else 0))
    bar = Progress(total, progress)
    out = {"rows": [], "sweep": [], "overhead": []}
    try:
        for wl in cfg.workloads:
            shapes = WORKLOADS[wl]()
            if cfg.scale != 1.0:
                shapes = scaled(shapes, cfg.scale)
            for dtype in cfg.dtypes:
                for threads in cfg.threads:
                    I.set_threads(threads)
                    for key in cfg.optimizers:
                        samples = _measure(cfg, key, shapes, np.dtype(dtype), rng,
                                           cfg.implementations, cfg.repeats)
                        ctx = dict(workload=wl, dtype=dtype, threads=threads, optimizer=key)
                        out["rows"] += _rows(ctx, samples, numel(shapes),
                                             bytes_per_value(key, np.dtype(dtype).itemsize))
                        bar.advance(f"{wl} {dtype} x{threads} {key}")
        # Size sweep: one tensor per size, float32, the largest thread count.
        sweep_impls = [i for i in ("fusedoptim", "torch-fused", "roofline") if i in cfg.implementations]
        I.set_threads(max(cfg.threads))
        for key in cfg.sweep_optimizers:
            for n in sizes:
                samples = _measure(cfg, key, [(n,)], np.dtype("float32"), rng, sweep_impls,
                                   max(3, cfg.repeats // 2))
                ctx = dict(workload=f"sweep-{n}", dtype="float32", threads=max(cfg.threads),
                           optimizer=key)
                out["sweep"] += _rows(ctx, samples, n, bytes_per_value(key, 4))
                bar.advance(f"sweep {key} {n:.0e}")
        # Per-call overhead: one 1-value tensor, one thread's worth of work.
        if cfg.overhead:
            over_impls = [i for i in cfg.implementations if i not in ("roofline", "triad")]
            for key in cfg.optimizers:
                samples = _measure(cfg, key, [(1,)], np.dtype("float32"), rng, over_impls,
                                   cfg.repeats)
                ctx = dict(workload="overhead", dtype="float32", threads=max(cfg.threads),
                           optimizer=key)
                out["overhead"] += _rows(ctx, samples, 1, bytes_per_value(key, 4))
                bar.advance(f"overhead {key}")
    finally:
        bar.close()
    return out
