"""`fusedoptim bench`: optimizer steps against the same-traffic roofline, NumPy and torch.

The default run (about two minutes on a 2-core machine, under 2 GB of memory at its
peak) covers Adam, AdamW and SGD with momentum on every workload in float32 at 1 and
2 threads against the roofline, NumPy, torch's default loop and torch fused, a size
sweep up to 2.2e7 values and the per-call overhead. Options select more
(``--optimizers all --dtypes float32,float64 --implementations all --max-values 1e8``)
or less (``--quick``). ``--distributed`` (under mpirun) and ``--model`` measure and model
data parallelism over MPI instead (cli/bench_distributed.py). Before each measurement the tool checks that its arrays fit
the memory available, and skips it, saying so, when they do not.
"""
from __future__ import annotations

import dataclasses
import os

HELP = "benchmark the fused optimizers against a memory roofline, NumPy and PyTorch"


def _list(text):
    return [t for t in text.split(",") if t]


def add_arguments(p) -> None:
    from ..bench.impls import DEFAULT_IMPLEMENTATIONS, IMPLEMENTATIONS
    from ..bench.plan import DEFAULT_MAX_VALUES
    from ..bench.workloads import OPTIMIZERS, WORKLOADS

    p.add_argument("--optimizers", type=_list, default=None,
                   help=f"comma list or 'all' (of {','.join(OPTIMIZERS)}); default adam,adamw,sgd-momentum")
    p.add_argument("--workloads", type=_list, default=None, help=f"comma list of {','.join(WORKLOADS)}")
    p.add_argument("--dtypes", type=_list, default=None, help="float32,float64 (default float32)")
    p.add_argument("--threads", type=lambda s: [int(x) for x in _list(s)], default=None,
                   help="thread counts, e.g. 1,2 (default 1 and the core count)")
    p.add_argument("--implementations", type=_list, default=None,
                   help=f"comma list or 'all' (of {','.join(IMPLEMENTATIONS)}); "
                        f"default {','.join(DEFAULT_IMPLEMENTATIONS)}")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="cuda: fusedoptim's CUDA kernels on CuPy arrays against torch's CUDA "
                        "optimizers and a GPU roofline (needs the CUDA build, CuPy and a GPU)")
    p.add_argument("--repeats", type=int, default=7, help="timed rounds per measurement")
    p.add_argument("--no-sweep", action="store_true", help="skip the size sweep")
    p.add_argument("--max-values", type=float, default=DEFAULT_MAX_VALUES,
                   help=f"the most parameter values in one measurement (default "
                        f"{DEFAULT_MAX_VALUES:.0e}, which keeps the run under 2 GB); larger "
                        f"workloads and sweep sizes are left out (1e8: the sweep to 1e8, "
                        f"about 3.9 GB); a size that does not fit the memory available "
                        f"is skipped, saying so")
    p.add_argument("--sweep-max", type=float, default=None,
                   help="largest size of the sweep (default: --max-values)")
    p.add_argument("--no-overhead", action="store_true", help="skip the per-call overhead")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and few repeats: checks that everything runs (seconds)")
    p.add_argument("--out", default="bench-out", help="folder of the JSON and PNG (default bench-out)")
    p.add_argument("--json", default=None, help="JSON path (default OUT/results.json)")
    p.add_argument("--plot", default=None, help="PNG path (default OUT/results.png)")
    p.add_argument("--markdown", default=None, help="also write the tables as Markdown here")
    from . import bench_distributed
    bench_distributed.add_arguments(p)


def config_from(args):
    from ..bench.runner import Config
    from ..bench.workloads import OPTIMIZERS

    from ..bench.impls import IMPLEMENTATIONS

    cfg = Config(device=args.device)
    every = list(IMPLEMENTATIONS)
    if cfg.device == "cuda":
        cfg.implementations = every = ["fusedoptim", "torch-fused", "torch-foreach", "roofline"]
    if args.optimizers:
        cfg.optimizers = list(OPTIMIZERS) if args.optimizers == ["all"] else args.optimizers
    for name in ("workloads", "dtypes", "threads", "implementations"):
        if getattr(args, name):
            setattr(cfg, name, getattr(args, name))
    if args.implementations == ["all"]:
        cfg.implementations = every
    for name in cfg.implementations:
        if name not in every:
            raise ValueError(f"--implementations: unknown implementation {name!r} "
                             f"(known here: {','.join(every)})")
    if not args.threads:
        cfg.threads = [1] if cfg.device == "cuda" else sorted({1, os.cpu_count() or 1})
    cfg.repeats, cfg.sweep, cfg.sweep_max = args.repeats, not args.no_sweep, args.sweep_max
    if not args.max_values >= 1:
        raise ValueError(f"--max-values: expected a count of at least 1, got {args.max_values:g}")
    cfg.max_values = int(args.max_values)
    cfg.overhead = not args.no_overhead
    if args.quick:
        cfg.scale, cfg.repeats, cfg.sweep_max = 1e-3, 3, 1e4
    for key in cfg.optimizers + cfg.sweep_optimizers:
        if key not in OPTIMIZERS:
            raise ValueError(f"--optimizers: unknown optimizer {key!r}")
    return cfg


def run(args) -> int:
    from ..bench import report
    from ..bench.runner import run as run_bench

    if args.distributed or args.model:  # over MPI, and the cost model: their own module
        from . import bench_distributed
        return bench_distributed.run(args)
    try:
        cfg = config_from(args)
    except ValueError as exc:
        print(exc)
        return 2
    try:
        result = run_bench(cfg)
    except RuntimeError as exc:  # --device cuda without what it needs
        print(exc)
        return 2
    if result["device"]:
        print(f"Device: {result['device']}\n")
    print(report.table(result["rows"]))
    if result["overhead"]:
        print(report.overhead_table(result["overhead"]) + "\n")
    if result["host"]:
        print(report.host_table(result["host"]) + "\n")
    print(report.targets(result["rows"]))
    for line in result["left_out"] + result["skipped"]:
        print(f"not measured: {line}")
    os.makedirs(args.out, exist_ok=True)
    json_path = args.json or os.path.join(args.out, "results.json")
    plot_path = args.plot or os.path.join(args.out, "results.png")
    report.write_json(json_path, result, dataclasses.asdict(cfg))
    print(f"\nJSON: {json_path}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(report.markdown(result))
        print(f"Markdown: {args.markdown}")
    if report.plot(plot_path, result):
        print(f"chart: {plot_path}")
    else:
        print("chart: skipped (pip install matplotlib, or fusedoptim[bench])")
    return 0
