"""GB/s of _core.pack and _core.unpack (the gradient-bucket copies of data parallelism)
against NumPy over ResNet-50's parameter shapes, float32, per thread count. Bytes are the
traffic a copy must move: every element read once and written once.

    python benchmarks/pack.py --threads 1,2 --repeats 7
"""
import argparse
import statistics

import numpy as np

import fusedoptim
from fusedoptim import _core
from fusedoptim.bench.timing import interleaved
from fusedoptim.bench.workloads import numel, resnet50_shapes


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--scale", type=float, default=0.5, help="unpack's factor (1/N for a mean)")
    args = ap.parse_args()

    shapes = resnet50_shapes()
    total = numel(shapes)
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    targets = [np.empty_like(a) for a in arrays]
    flat = np.empty(total, np.float32)
    _core.pack(arrays, flat)
    views, at = [], 0  # NumPy's unpack: a view of flat per target, made once
    for t in targets:
        views.append(flat[at:at + t.size].reshape(t.shape))
        at += t.size
    factor = np.float32(args.scale)

    def np_unpack_scaled():
        for v, t in zip(views, targets):
            np.multiply(v, factor, out=t)

    def np_unpack_copy():
        for v, t in zip(views, targets):
            np.copyto(t, v)

    fns = {
        "pack: _core.pack": lambda: _core.pack(arrays, flat),
        "pack: np.concatenate(out=)": lambda: np.concatenate([a.ravel() for a in arrays], out=flat),
        f"unpack x{args.scale}: _core.unpack": lambda: _core.unpack(flat, targets, 0, args.scale),
        f"unpack x{args.scale}: np.multiply(out=) loop": np_unpack_scaled,
        "unpack x1: _core.unpack": lambda: _core.unpack(flat, targets),
        "unpack x1: np.copyto loop": np_unpack_copy,
    }
    gbytes = 2 * total * 4 / 1e9
    print(f"resnet50: {len(shapes)} tensors, {total:,} float32 values, {gbytes:.3f} GB moved per call")
    for threads in [int(t) for t in args.threads.split(",")]:
        fusedoptim.set_num_threads(threads)
        samples = interleaved(fns, args.repeats, target_s=0.2)
        for name, s in samples.items():
            med = statistics.median(s)
            print(f"threads={threads}  {name:42s} {med * 1e3:8.2f} ms  {gbytes / med:6.2f} GB/s")


if __name__ == "__main__":
    main()
