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
    fns = {}
    for name in implementations:
        factory = side.impls.get(name)
        fn = factory(key, params, grads) if factory else None
        if fn is not None:
            fns[name] = fn
    return fns


def _measure(side, key, shapes, dtype, rng, implementations, repeats):
    fns = _step_fns(side, key, shapes, dtype, rng, implementations)
    samples = interleaved(fns, repeats, sync=side.sync)
    del fns
    gc.collect()
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


def run(cfg: Config, progress: bool = True, tools=None) -> dict:
    """All measurements of ``cfg``: {"rows": [...], "sweep": [...], "overhead": [...]}
    (GPU runs: "host" too, the host time per step call, and "device", its name).
    ``tools``: a bench.device.DeviceTools to use instead of CuPy (the tests' emulation)."""
    side = _Side(cfg, tools)
    rng = np.random.default_rng(cfg.seed)
    sizes = [n for n in sweep_sizes(1e2, cfg.sweep_max)] if cfg.sweep else []
    total = (len(cfg.workloads) * len(cfg.dtypes) * len(cfg.threads) * len(cfg.optimizers)
             + len(sizes) * len(cfg.sweep_optimizers) + (len(cfg.optimizers) if cfg.overhead else 0))
    bar = Progress(total, progress)
    if side.tools is not None:
        total += len(cfg.workloads) * len(cfg.optimizers)
    out = {"rows": [], "sweep": [], "overhead": [], "host": [],
           "device": side.tools.name if side.tools else None}
    try:
        for wl in cfg.workloads:
            shapes = WORKLOADS[wl]()
            if cfg.scale != 1.0:
                shapes = scaled(shapes, cfg.scale)
            for dtype in cfg.dtypes:
                for threads in cfg.threads:
                    side.set_threads(threads)
                    for key in cfg.optimizers:
                        samples = _measure(side, key, shapes, np.dtype(dtype), rng,
                                           cfg.implementations, cfg.repeats)
                        ctx = dict(workload=wl, dtype=dtype, threads=threads, optimizer=key)
                        out["rows"] += _rows(ctx, samples, numel(shapes),
                                             bytes_per_value(key, np.dtype(dtype).itemsize))
                        bar.advance(f"{wl} {dtype} x{threads} {key}")
        # Size sweep: one tensor per size, float32, the largest thread count.
        sweep_impls = [i for i in ("fusedoptim", "torch-fused", "roofline") if i in cfg.implementations]
        side.set_threads(max(cfg.threads))
        for key in cfg.sweep_optimizers:
            for n in sizes:
                samples = _measure(side, key, [(n,)], np.dtype("float32"), rng, sweep_impls,
                                   max(3, cfg.repeats // 2))
                ctx = dict(workload=f"sweep-{n}", dtype="float32", threads=max(cfg.threads),
                           optimizer=key)
                out["sweep"] += _rows(ctx, samples, n, bytes_per_value(key, 4))
                bar.advance(f"sweep {key} {n:.0e}")
        # Per-call overhead: one 1-value tensor, one thread's worth of work.
        if cfg.overhead:
            over_impls = [i for i in cfg.implementations if i not in ("roofline", "triad")]
            for key in cfg.optimizers:
                samples = _measure(side, key, [(1,)], np.dtype("float32"), rng, over_impls,
                                   cfg.repeats)
                ctx = dict(workload="overhead", dtype="float32", threads=max(cfg.threads),
                           optimizer=key)
                out["overhead"] += _rows(ctx, samples, 1, bytes_per_value(key, 4))
                bar.advance(f"overhead {key}")
        if side.tools is not None:
            out["host"] = _host_rows(side, cfg, rng, bar)
    finally:
        bar.close()
    return out
