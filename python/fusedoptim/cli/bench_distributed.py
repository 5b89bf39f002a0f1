"""`fusedoptim bench --distributed` and `fusedoptim bench --model`.

``mpirun -n N python -m mpi4py -m fusedoptim bench --distributed`` times ZeRO-1 and
plain data parallelism on N ranks (phases, state per rank), the collectives over message
sizes (N > 1), and fits the cost model's alpha and beta to them; rank 0 prints the tables
and writes the JSON (default OUT/distributed-nN.json).

``fusedoptim bench --model [--fit a.json,b.json,...]`` (no MPI) fits alpha and beta to the
collectives of those runs together and the update bandwidth to the smallest run's
updates (or, without --fit, to one local step), then extrapolates with the MODEL to
8..1024 ranks on the stated network (``--network-gbps``, ``--alpha-us``).
"""
from __future__ import annotations

import json
import os
from typing import Any

#: the model's rank counts
MODEL_RANKS = [2 ** k for k in range(3, 11)]
#: the model's workloads: name -> parameter count
MODEL_PARAMS = {"1B params": 10 ** 9, "resnet50": 25_557_032}


def add_arguments(p) -> None:
    p.add_argument("--distributed", action="store_true",
                   help="under mpirun: ZeRO-1 against plain data parallelism over MPI (phases, "
                        "state per rank) and the collectives over message sizes")
    p.add_argument("--model", action="store_true",
                   help="the cost model extrapolated to 8..1024 ranks (see --fit, --network-gbps)")
    p.add_argument("--fit", type=lambda s: [t for t in s.split(",") if t], default=None,
                   help="with --model: JSON files of --distributed runs to fit alpha, beta and "
                        "the update bandwidth to")
    p.add_argument("--layouts", default="flat,separate",
                   help="with --distributed: flat (params from flat_params, no packing), "
                        "separate (ordinary arrays, packed); default both")
    p.add_argument("--network-gbps", type=float, default=100.0,
                   help="the model's link bandwidth in Gb/s (default 100)")
    p.add_argument("--alpha-us", type=float, default=5.0,
                   help="the model's latency per message in microseconds (default 5)")


def _options(args) -> tuple[list[str], list[str]]:
    from ..bench.workloads import OPTIMIZERS, WORKLOADS

    optimizers = args.optimizers or ["adam"]
    workloads = args.workloads or ["resnet50"]
    for name in optimizers:
        if name not in OPTIMIZERS or name in ("lamb", "lars", "adafactor"):
            raise ValueError(f"--optimizers: {name!r} is not an elementwise optimizer of the "
                             "bench (ZeRO-1 shards by values), e.g. adam,sgd-momentum")
    for name in workloads:
        if name not in WORKLOADS:
            raise ValueError(f"--workloads: unknown workload {name!r} ({','.join(WORKLOADS)})")
    return optimizers, workloads


def _threads(comm: Any, args) -> int:
    """fusedoptim threads per rank: --threads, or the cores shared by this node's ranks."""
    import fusedoptim
    from mpi4py import MPI

    local = comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
    n = args.threads[0] if args.threads else max(1, (os.cpu_count() or 1) // local)
    fusedoptim.set_num_threads(n)
    return n


def run_distributed(args) -> int:
    from ..bench import comm_sweep, cost_model
    from ..bench import distributed as D
    from ..bench import distributed_report as R
    from ..bench.workloads import WORKLOADS, scaled
    from ..distributed._comm import world

    comm = world()
    optimizers, workloads = _options(args)
    layouts = tuple(t for t in args.layouts.split(",") if t)
    if not layouts or any(t not in D.LAYOUTS for t in layouts):
        raise ValueError(f"--layouts: expected a comma list of {','.join(D.LAYOUTS)}")
    threads = _threads(comm, args)
    repeats = 3 if args.quick else args.repeats
    rows = []
    for w in workloads:
        shapes = WORKLOADS[w]()
        shapes = scaled(shapes, 1e-3) if args.quick else shapes
        for o in optimizers:
            rows += D.measure(comm, w, shapes, o, layouts, repeats)
    sizes = comm_sweep.QUICK_SIZES if args.quick else comm_sweep.SIZES
    sweep = comm_sweep.sweep(comm, sizes, repeats)
    net = cost_model.fit_network((r["kind"], r["ranks"], r["bytes"], r["seconds"])
                                 for r in sweep) if sweep else None
    if comm.Get_rank() != 0:
        return 0
    n = comm.Get_size()
    text = [f"## {n} rank(s), {threads} fusedoptim thread(s) per rank, float32, median of "
            f"{repeats}", "", R.phases(rows), ""]
    if sweep:
        text += ["Collectives over message sizes:", "", R.sweep(sweep, net), "",
                 f"Fitted (ring model, N = {n}): {net.describe() if net else '-'}", ""]
    print("\n".join(text))
    result = {"ranks": n, "threads_per_rank": threads, "repeats": repeats, "rows": rows,
              "sweep": sweep, "fit": None if net is None else {"alpha": net.alpha, "beta": net.beta}}
    _write(args, result, "\n".join(text), f"distributed-n{n}.json")
    return 0


def _write(args, result: dict, markdown: str, default_name: str) -> None:
    from ..bench.report import machine

    path = args.json or os.path.join(args.out, default_name)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        json.dump({**result, "machine": machine()}, f, indent=1)
    print(f"JSON: {path}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown + "\n")
        print(f"Markdown: {args.markdown}")


def run_model(args) -> int:
    from ..bench import cost_model as cm
    from ..bench import distributed as D
    from ..bench import distributed_report as R
    from ..bench.workloads import OPTIMIZERS, WORKLOADS, bytes_per_value, scaled

    optimizers, _ = _options(args)
    runs = []
    for path in args.fit or []:
        with open(path) as f:
            runs.append(json.load(f))
    text = []
    sweep = [r for run in runs for r in run["sweep"]]
    fitted = None
    if sweep:
        fitted = cm.fit_network((r["kind"], r["ranks"], r["bytes"], r["seconds"]) for r in sweep)
        ranks = sorted({r["ranks"] for r in sweep})
        text += [f"Fitted to the collectives at N = {ranks} ({len(sweep)} times): "
                 f"{fitted.describe()}", "", R.check([r for run in runs for r in run["rows"]],
                                                     fitted), ""]
    if runs:
        first = min(runs, key=lambda run: run["ranks"])
        pairs = [(r["update_bytes"], r["phases"]["update"]) for r in first["rows"]
                 if r["layout"] == "flat" and r["optimizer"] == optimizers[0]]
        source = f"the measured updates at N = {first['ranks']}"
    else:
        shapes = WORKLOADS["resnet50"]()
        pairs = [D.local_update(optimizers[0], scaled(shapes, 1e-3) if args.quick else shapes,
                                3 if args.quick else args.repeats)]
        source = "one local step on resnet50 (this process)"
    bandwidth = cm.fit_bandwidth(pairs)
    net = cm.Network.of(args.network_gbps, args.alpha_us)
    opt = optimizers[0]
    bpv = bytes_per_value(opt, 4)
    text += [f"Update bandwidth: {bandwidth / 1e9:.3g} GB/s (fitted to {source}; "
             f"{opt} moves {bpv:g} bytes per float32 value)", "",
             f"MODEL, not a measurement: ring collectives on {net.describe()}, {opt} in "
             f"float32, update at {bandwidth / 1e9:.3g} GB/s per rank", ""]
    for name, params in MODEL_PARAMS.items():
        rows = cm.model_rows(params, MODEL_RANKS, 4, bpv, OPTIMIZERS[opt][2], net, bandwidth)
        text += [f"### MODEL: {name} ({params:,} values)", "", R.model(rows), ""]
    print("\n".join(text))
    result = {"network": {"alpha": net.alpha, "beta": net.beta}, "update_bandwidth": bandwidth,
              "fitted": None if fitted is None else {"alpha": fitted.alpha, "beta": fitted.beta},
              "fit_files": args.fit or []}
    _write(args, result, "\n".join(text), "model.json")
    return 0


def run(args) -> int:
    try:
        return run_model(args) if args.model else run_distributed(args)
    except ValueError as exc:
        print(exc)
        return 2
