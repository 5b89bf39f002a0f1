"""How fast each 16-bit and 8-bit mode could be on this machine: its step on data that
stays in each core's L2 cache (no memory traffic to wait for: the arithmetic and the
conversions alone), against its same-traffic roofline on ResNet-50's shapes, in one run.

For each mode and thread count it prints, in ns per value:
* ``in cache``: the mode's own step at 1 thread on data inside the core's L2 (16,384 and
  32,768 values: at most 512 KB of float32 Adam operands, in a 1 MB L2), per value as
  the difference of the two sizes' best times, so the fixed cost of a call drops out:
  what its arithmetic and conversions cost when memory is free. At T threads it is
  divided by T, the best the cores can share it (steps this small run on one thread,
  below the engine's parallel threshold, so they cannot be timed at T threads);
* ``float32 rule``: the same for float32 params and state, the arithmetic of the update
  rule without any 16-bit conversion or 8-bit quantization: a floor no rule compiled for
  16-bit loads could go below;
* ``roofline``: the mode's bytes per value (half.py's traffic model) at the bandwidth of
  the float32 same-traffic kernel on ResNet-50 (25.6M values), measured in the same run;
* ``resnet50``: the mode's measured step on ResNet-50, per value;
* the largest fraction of the roofline each floor allows: roofline / max(roofline, floor).
  Below 0.90 the issue's target cannot be met at that thread count whatever the memory
  path, because the arithmetic alone takes longer than the roofline allows.

    python benchmarks/compute_floor.py --threads 1,2
"""
import argparse
import statistics
import time

import ml_dtypes
import numpy as np

import fusedoptim
from fusedoptim.bench import impls
from fusedoptim.bench.timing import interleaved
from fusedoptim.bench.workloads import numel, resnet50_shapes
from half import BF16, F16, F32, OPTIMIZERS, traffic

U8 = np.dtype(np.uint8)
PER_THREAD = 16_384
# (name, param dtype, state dtype, keywords, 8-bit class or None)
MODES = [("float32", F32, F32, {}, None),
         ("bfloat16", BF16, BF16, {}, None),
         ("bfloat16 + float32 state", BF16, F32, dict(state_dtype=np.float32), None),
         ("float16", F16, F16, {}, None),
         ("float32 + bfloat16 state", F32, BF16, dict(state_dtype=ml_dtypes.bfloat16), None),
         ("bfloat16, stochastic rounding", BF16, BF16, dict(stochastic_rounding=True), None),
         ("8-bit", F32, U8, {}, {"adam": "Adam8bit", "sgd-momentum": "SGD8bit"})]


def make(key, mode, shapes, rng):
    """The optimizer of ``mode`` over fresh params of ``shapes``, stepped once, and its step."""
    cls, kw, _ = OPTIMIZERS[key]
    _, pd, _, mkw, eight = mode
    ps = [rng.standard_normal(s).astype(np.float32).astype(pd) for s in shapes]
    gs = [(1e-2 * rng.standard_normal(s)).astype(np.float32).astype(pd) for s in shapes]
    opt = getattr(fusedoptim, eight[key] if eight else cls)(ps, **kw, **mkw)
    opt.step(gs)
    return lambda: opt.step(gs)


def best_s(fn, repeats):
    """Best over ``repeats`` samples of 0.1 s each, per call."""
    best = float("inf")
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < 0.1:
            fn()
            calls += 1
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def in_cache_ns(key, mode, rng, repeats):
    """ns per value of the mode's step in cache at 1 thread: (t(2m) - t(m)) / m."""
    m = PER_THREAD
    one = best_s(make(key, mode, [(m,)], rng), repeats)
    two = best_s(make(key, mode, [(2 * m,)], rng), repeats)
    return (two - one) / m * 1e9


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--optimizers", default="adam,sgd-momentum")
    args = ap.parse_args()
    shapes = resnet50_shapes()
    n = numel(shapes)
    rng = np.random.default_rng(0)
    print(f"resnet50: {n:,} values; in cache: {PER_THREAD:,} and {2 * PER_THREAD:,} values "
          "at 1 thread")
    keys = args.optimizers.split(",")
    modes_of = {key: [m for m in MODES if m[4] is None or key in m[4]] for key in keys}
    fusedoptim.set_num_threads(1)
    cache1 = {key: {m[0]: in_cache_ns(key, m, rng, args.repeats) for m in modes_of[key]}
              for key in keys}
    for threads in [int(t) for t in args.threads.split(",")]:
        fusedoptim.set_num_threads(threads)
        for key in keys:
            n_state = OPTIMIZERS[key][2]
            modes = modes_of[key]
            cache = {name: ns / threads for name, ns in cache1[key].items()}
            floor32 = cache["float32"]
            base = [rng.standard_normal(s).astype(np.float32) for s in shapes]
            grads = [(1e-2 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
            fns = {"roofline": impls.roofline("adam", base, grads, {})}
            for m in modes:
                fns[m[0]] = make(key, m, shapes, rng)
            samples = {k: statistics.median(v)
                       for k, v in interleaved(fns, args.repeats, target_s=0.2).items()}
            bandwidth = traffic(F32, F32, 2) * n / samples.pop("roofline")
            print(f"\n{key}, threads={threads}: roofline bandwidth {bandwidth / 1e9:.1f} GB/s; "
                  f"float32 rule in cache {floor32:.3f} ns/value")
            print(f"  {'mode':32s} {'in cache':>9s} {'roofline':>9s} {'resnet50':>9s} "
                  f"{'measured':>9s} {'max (own)':>10s} {'max (f32 rule)':>15s}")
            for m in modes:
                roof = traffic(m[1], m[2], n_state) / bandwidth * 1e9
                got = samples[m[0]] / n * 1e9
                print(f"  {m[0]:32s} {cache[m[0]]:9.3f} {roof:9.3f} {got:9.3f} "
                      f"{roof / got:9.0%} {roof / max(roof, cache[m[0]]):10.0%} "
                      f"{roof / max(roof, floor32):15.0%}")


if __name__ == "__main__":
    main()
