"""Time per step of the 8-bit optimizers (Adam8bit, SGD8bit, Lion8bit) on ResNet-50's
float32 parameter shapes, against fusedoptim's 32-bit optimizers, torch's fused CPU
optimizers and bitsandbytes' 8-bit CPU optimizers (where installed), in one run, with the
bytes of optimizer state per param measured from each one's state arrays.

Every optimizer keeps its defaults but lr (bitsandbytes' min_8bit_size=4096: ResNet-50's
small tensors, its norms and biases, keep float32 state).

    python benchmarks/eightbit.py --threads 1,2 --repeats 7
"""
import argparse
import statistics

import numpy as np
import torch

import fusedoptim
from fusedoptim.bench.timing import interleaved
from fusedoptim.bench.workloads import numel, resnet50_shapes

# name: (fusedoptim 32-bit class, its 8-bit class, keywords, torch's fused class or None)
PAIRS = {
    "adam": ("Adam", "Adam8bit", dict(lr=1e-3), "Adam"),
    "sgd-momentum": ("SGD", "SGD8bit", dict(lr=1e-2, momentum=0.9), "SGD"),
    "lion": ("Lion", "Lion8bit", dict(lr=1e-4), None),
}


def state_bytes(entries):
    """Bytes of the state arrays (codes, absmax, moments; not the 1 KB maps nor step)."""
    total = 0
    for st in entries:
        for k, v in st.items():
            if not k.startswith("qmap") and hasattr(v, "nbytes"):
                total += v.nbytes
    return total


def ours(cls, base, grads, kw):
    opt = getattr(fusedoptim, cls)([p.copy() for p in base], **kw)
    opt.step(grads)
    return (lambda: opt.step(grads)), state_bytes(opt.state[i] for i in opt.state)


def theirs(make, base, grads):
    params = [torch.nn.Parameter(torch.from_numpy(p.copy())) for p in base]
    for t, g in zip(params, grads):
        t.grad = torch.from_numpy(g)
    opt = make(params)
    opt.step()
    return opt.step, state_bytes(
        {k: (v.numpy() if torch.is_tensor(v) else v) for k, v in opt.state[t].items()}
        for t in params)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--optimizers", default=",".join(PAIRS))
    args = ap.parse_args()
    try:
        import bitsandbytes as bnb
    except ImportError:
        bnb = None
    shapes = resnet50_shapes()
    n = numel(shapes)
    rng = np.random.default_rng(0)
    base = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [(1e-2 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    print(f"resnet50: {len(shapes)} tensors, {n:,} float32 values; torch {torch.__version__}, "
          f"bitsandbytes {bnb.__version__ if bnb else 'not installed'}, "
          f"SIMD path {fusedoptim.build_info()['isa']}")
    for threads in [int(t) for t in args.threads.split(",")]:
        fusedoptim.set_num_threads(threads)
        torch.set_num_threads(threads)
        for key in args.optimizers.split(","):
            cls32, cls8, kw, torch_cls = PAIRS[key]
            fns, state = {}, {}
            for label, cls in ((f"fusedoptim {cls32} (32-bit)", cls32),
                               (f"fusedoptim {cls8}", cls8)):
                fns[label], state[label] = ours(cls, base, grads, kw)
            if torch_cls:
                label = f"torch {torch_cls} fused (32-bit)"
                fns[label], state[label] = theirs(
                    lambda ps: getattr(torch.optim, torch_cls)(ps, fused=True, **kw), base, grads)
            if bnb is not None:
                label = f"bitsandbytes {cls8}"
                fns[label], state[label] = theirs(
                    lambda ps: getattr(bnb.optim, cls8)(ps, **kw), base, grads)
            samples = interleaved(fns, args.repeats, target_s=0.3)
            ref = statistics.median(samples[f"fusedoptim {cls32} (32-bit)"])
            print(f"\n{key}, threads={threads}")
            print(f"  {'implementation':36s} {'ms/step':>8s} {'state B/param':>14s} "
                  f"{'vs fusedoptim 32-bit':>21s}")
            for label, s in samples.items():
                med = statistics.median(s)
                print(f"  {label:36s} {med * 1e3:8.2f} {state[label] / n:14.2f} "
                      f"{ref / med:20.2f}x")


if __name__ == "__main__":
    main()
