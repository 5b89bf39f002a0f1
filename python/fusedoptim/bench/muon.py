"""Muon's time per step against torch.optim.Muon, on the same matrices in the same run:
``python -m fusedoptim.bench.muon [--threads 1,2] [--workloads resnet50,transformer]``.

Workloads (float32): ResNet-50's weights as Muon users give them (each conv filter
reshaped to (out, in*kh*kw), and the fc; biases and norms go to AdamW), and a
transformer-like set, 12 x (768x768, 768x3072, 3072x768). Three implementations:
fusedoptim.Muon (Newton-Schulz in float32 by NumPy's BLAS), torch.optim.Muon with its
iteration kept in float32 (same precision: the fair comparison), and torch.optim.Muon as
it is (iteration in bfloat16, slow on CPUs without bfloat16 matrix units).

Each thread count runs in its own process with OPENBLAS/OMP/MKL_NUM_THREADS set before
NumPy and torch load, plus torch.set_num_threads and fusedoptim.set_num_threads: every
library runs with the same threads. A time is the fastest of ``--steps`` steps (the first
one allocates the momentum buffers, a few ms against seconds of matrix products). torch
in bfloat16 takes minutes per step of the transformer set at one thread: it is timed on
``--bf16-layers`` of its 12 identical layers and scaled to 12 (marked in the table).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from typing import Any

from .workloads import resnet50_shapes

IMPLS = ("fusedoptim", "torch-f32", "torch-bf16")
LAYER = [(768, 768), (768, 3072), (3072, 768)]


def resnet50_matrices() -> list[tuple[int, int]]:
    """ResNet-50's 54 weight tensors of 2 or more dimensions as (out, in*kh*kw) matrices."""
    return [(s[0], math.prod(s[1:])) for s in resnet50_shapes() if len(s) >= 2]


def transformer_matrices(layers: int = 12) -> list[tuple[int, int]]:
    return LAYER * layers


WORKLOADS = {"resnet50": resnet50_matrices, "transformer": transformer_matrices}


def newton_schulz_keep_dtype(grad: Any, ns_coefficients: Any, ns_steps: int, eps: float) -> Any:
    """torch.optim._muon._zeropower_via_newtonschulz (torch 2.13) with ``grad.bfloat16()``
    replaced by ``grad.clone()``: the same iteration in the input's dtype (a copy, as the
    cast made one: div_ must not touch the momentum buffer)."""
    import torch

    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    ortho_grad = grad.clone()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


def same_precision_muon() -> type:
    """torch.optim.Muon whose steps (and only they) run newton_schulz_keep_dtype."""
    from unittest import mock

    import torch
    import torch.optim._muon as torch_muon

    class SamePrecisionMuon(torch.optim.Muon):
        def step(self, closure: Any = None) -> Any:
            with mock.patch.object(torch_muon, "_zeropower_via_newtonschulz",
                                   newton_schulz_keep_dtype):
                return super().step(closure)

    return SamePrecisionMuon


# ------------------------------------------------------------------- one process
def _time_steps(step: Any, steps: int) -> float:
    best = math.inf
    for _ in range(steps):
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)
    return best


def measure(workload: str, threads: int, steps: int, bf16_layers: int,
            impls: tuple[str, ...] = IMPLS) -> dict[str, Any]:
    """Seconds per step of each implementation on ``workload`` (float32), in this process."""
    import numpy as np
    import torch

    import fusedoptim

    torch.set_num_threads(threads)
    fusedoptim.set_num_threads(threads)
    shapes = WORKLOADS[workload]()
    rng = np.random.default_rng(0)
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    out: dict[str, Any] = {"workload": workload, "threads": threads, "matrices": len(shapes),
                           "values": sum(math.prod(s) for s in shapes), "scaled": {}}
    if "fusedoptim" in impls:
        opt = fusedoptim.Muon([p.copy() for p in params], lr=0.02)
        out["fusedoptim"] = _time_steps(lambda: opt.step(grads), steps)
    for impl, cls, n_steps in (("torch-f32", same_precision_muon(), steps),
                               ("torch-bf16", torch.optim.Muon, 1)):
        if impl not in impls:
            continue
        scale = 1.0
        sub = shapes
        if impl == "torch-bf16" and workload == "transformer" and bf16_layers < len(shapes) // 3:
            sub, scale = transformer_matrices(bf16_layers), (len(shapes) // 3) / bf16_layers
            out["scaled"][impl] = f"{bf16_layers} of {len(shapes) // 3} layers, x{scale:g}"
        tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params[:len(sub)]]
        for tp, g in zip(tparams, grads):
            tp.grad = torch.from_numpy(g)
        topt = cls(tparams, lr=0.02)
        out[impl] = _time_steps(topt.step, n_steps) * scale
    return out


# ---------------------------------------------------------------------- the run
def run(workloads: list[str], threads: list[int], steps: int, bf16_layers: int,
        impls: tuple[str, ...] = IMPLS) -> list[dict[str, Any]]:
    """Each (workload, thread count) measured in a fresh process with the threads of every
    library set before they load."""
    rows = []
    for workload in workloads:
        for n in threads:
            env = dict(os.environ, OMP_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n),
                       MKL_NUM_THREADS=str(n))
            code = ("import json, sys; from fusedoptim.bench.muon import measure; "
                    f"print(json.dumps(measure({workload!r}, {n}, {steps}, {bf16_layers}, "
                    f"{tuple(impls)!r})))")
            res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, check=True)
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(_row(rows[-1]), flush=True)
    return rows


def _row(r: dict[str, Any]) -> str:
    cells = [r["workload"], f"{r['matrices']} ({r['values'] / 1e6:.1f} M values)", str(r["threads"])]
    for impl in IMPLS:
        t = r.get(impl)
        cells.append("-" if t is None else f"{t * 1e3:,.0f}" + ("*" if impl in r["scaled"] else ""))
    for impl in IMPLS[1:]:
        t, ours = r.get(impl), r.get("fusedoptim")
        cells.append("-" if t is None or ours is None else f"{t / ours:.2f}x")
    return "| " + " | ".join(cells) + " |"


def markdown(rows: list[dict[str, Any]]) -> str:
    head = ("| workload | matrices | threads | fusedoptim ms | torch f32-NS ms | torch bf16-NS ms "
            "| speed-up vs torch f32-NS | speed-up vs torch bf16-NS |\n"
            "|---|---|---|---|---|---|---|---|")
    notes = sorted({f"{impl}: {how}" for r in rows for impl, how in r["scaled"].items()})
    tail = ("\n\n* timed on part of the workload and scaled: " + "; ".join(notes)) if notes else ""
    return head + "\n" + "\n".join(_row(r) for r in rows) + tail


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fusedoptim.bench.muon", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="resnet50,transformer")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--steps", type=int, default=2, help="timed steps (fastest kept)")
    p.add_argument("--bf16-layers", type=int, default=1,
                   help="transformer layers torch's bfloat16 Muon is timed on (scaled to 12)")
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--markdown", help="also write the table to this file")
    args = p.parse_args(argv)
    workloads = args.workloads.split(",")
    bad = [w for w in workloads if w not in WORKLOADS]
    impls = tuple(args.impls.split(","))
    if bad or not set(impls) <= set(IMPLS):
        p.error(f"workloads: {','.join(WORKLOADS)}; impls: {','.join(IMPLS)}")
    rows = run(workloads, [int(t) for t in args.threads.split(",")], args.steps,
               args.bf16_layers, impls)
    table = markdown(rows)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
