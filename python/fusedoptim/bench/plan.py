"""The size plan of a benchmark run: every measurement the runner will make, in its
order, with an estimate of the bytes of all arrays alive at once while it runs.

The runner measures exactly these entries, so the plan is what a run allocates: the
default run can be sized before it starts (it must fit a laptop: under 2 GB peak),
and each entry is checked against the memory available just before it is allocated.
``--max-values`` is the largest number of parameter values in one measurement; bigger
workloads and sweep sizes are left out of the plan, saying so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .workloads import OPTIMIZERS, WORKLOADS, numel, scaled, sweep_sizes

#: the default --max-values: ResNet-50 (25.6 M values) fits, the sweep stops at 2.2e7
DEFAULT_MAX_VALUES = 30_000_000

#: the process before any benchmark array: Python, NumPy, torch and fusedoptim
#: imported (measured 230 MB with torch 2.13 CPU), rounded up
BASE_BYTES = 300_000_000

#: the implementations the size sweep compares
SWEEP_IMPLEMENTATIONS = ("fusedoptim", "torch-fused", "roofline")


@dataclass(frozen=True)
class Measurement:
    """One interleaved measurement: its arrays are allocated, timed and freed together."""
    section: str                 # "rows", "sweep" or "overhead": where its rows go
    workload: str
    dtype: str
    threads: int
    optimizer: str
    shapes: tuple
    implementations: tuple
    repeats: int
    n_values: int
    array_bytes: int             # estimated peak of its arrays, all alive at once

    @property
    def label(self) -> str:
        return f"{self.workload} {self.dtype} x{self.threads} {self.optimizer}"


@dataclass
class Plan:
    measurements: list
    max_values: int
    left_out: list = field(default_factory=list)  # one line per thing above max_values

    @property
    def largest(self) -> Measurement | None:
        return max(self.measurements, key=lambda m: m.array_bytes, default=None)

    @property
    def peak_bytes(self) -> int:
        """The run's estimated peak: the process plus its largest measurement."""
        big = self.largest
        return BASE_BYTES + (big.array_bytes if big else 0)

    def describe(self) -> str:
        big = self.largest
        lines = [f"{len(self.measurements)} measurements, up to {self.max_values:,} values each; "
                 f"estimated peak {self.peak_bytes / 1e9:.2f} GB"
                 + (f" ({big.label}: {big.array_bytes / 1e9:.2f} GB of arrays)" if big else "")]
        return "\n".join(lines + [f"left out: {line}" for line in self.left_out])


#: temporaries of the largest tensor that the NumPy reference's step makes at once, where
#: more than 2 (counted from its expressions: each binary operation of a line makes one)
NUMPY_TEMPORARIES = {"rprop": 5, "adamax": 3, "nadam": 4, "radam": 4, "adadelta": 4}


def array_bytes(optimizer: str, shapes, itemsize: int, implementations, device: str = "cpu") -> int:
    """Bytes of the arrays alive at once in one measurement (see bench/impls.py).

    Shared by all implementations: the params (copied by each) and the grads (read by
    NumPy and torch's loop and fused step; fusedoptim and torch's foreach path have
    their own copy). Each implementation but the roofline keeps its own params and
    state buffers; the roofline runs over fusedoptim's arrays (its own copy only when
    fusedoptim is not measured); the triad writes one array and reads a params copy.
    Steps run one at a time, so of the temporaries a step allocates only the largest
    counts: NumPy and torch's single-tensor loop make them per tensor (measured: up to
    2 of the largest tensor in NumPy, more for some (NUMPY_TEMPORARIES); torch up to 3), torch's foreach
    path over the whole list (up to 2). On a GPU the copies live in device memory:
    the host holds the params and grads only.
    """
    whole = numel(shapes) * itemsize
    largest = max((numel([s]) for s in shapes), default=0) * itemsize
    shared = 2 * whole
    if device != "cpu":
        return shared
    own_copy = (1 + OPTIMIZERS[optimizer][2]) * whole
    own = {"fusedoptim": own_copy + whole, "numpy": own_copy, "torch": own_copy,
           "torch-foreach": own_copy + whole, "torch-fused": own_copy,
           "roofline": 0 if "fusedoptim" in implementations else own_copy,
           "triad": 2 * whole}
    temporaries = {"numpy": NUMPY_TEMPORARIES.get(optimizer, 2) * largest, "torch": 3 * largest,
                   "torch-foreach": 2 * whole}
    return (shared + sum(own.get(i, own_copy) for i in implementations)
            + max((temporaries.get(i, 0) for i in implementations), default=0))


def size_plan(cfg) -> Plan:
    """The measurements of a runner.Config, in the order the runner makes them."""
    max_values = int(cfg.max_values)
    plan = Plan([], max_values)
    top = max(cfg.threads)

    def add(section, workload, dtype, threads, key, shapes, impls, repeats):
        n = numel(shapes)
        itemsize = np.dtype(dtype).itemsize
        plan.measurements.append(Measurement(
            section, workload, dtype, threads, key, tuple(shapes), tuple(impls), repeats, n,
            array_bytes(key, shapes, itemsize, impls, cfg.device)))

    for wl in cfg.workloads:
        shapes = WORKLOADS[wl]()
        if cfg.scale != 1.0:
            shapes = scaled(shapes, cfg.scale)
        if numel(shapes) > max_values:
            plan.left_out.append(f"{wl} ({numel(shapes):,} values): above --max-values "
                                 f"{max_values:,}")
            continue
        for dtype in cfg.dtypes:
            for threads in cfg.threads:
                for key in cfg.optimizers:
                    add("rows", wl, dtype, threads, key, shapes, cfg.implementations, cfg.repeats)
    if cfg.sweep:
        sweep_impls = [i for i in SWEEP_IMPLEMENTATIONS if i in cfg.implementations]
        sizes = sweep_sizes(1e2, cfg.sweep_max or max_values)
        above = [n for n in sizes if n > max_values]
        if above:
            plan.left_out.append(f"size sweep {above[0]:.0e} to {above[-1]:.0e} values: above "
                                 f"--max-values {max_values:,}")
        for key in cfg.sweep_optimizers:
            for n in sizes:
                if n <= max_values:
                    add("sweep", f"sweep-{n}", "float32", top, key, [(n,)], sweep_impls,
                        max(3, cfg.repeats // 2))
    if cfg.overhead:
        over_impls = [i for i in cfg.implementations if i not in ("roofline", "triad")]
        for key in cfg.optimizers:
            add("overhead", "overhead", "float32", top, key, [(1,)], over_impls, cfg.repeats)
    return plan
