"""Time per step of the 16-bit and 8-bit modes on ResNet-50's parameter shapes, against
torch's fused CPU optimizers on the same dtypes, with the bytes of optimizer state per param
(measured from the state arrays) and the fraction of a same-traffic roofline. The 8-bit
modes (Adam8bit, SGD8bit: float32 params, uint8 state codes and a float32 absmax per 256
values) are timed next to float32 Adam and SGD in the same run, and bfloat16 with
``stochastic_rounding=True`` next to bfloat16.

The roofline of a mode is the bytes its step must move (param and state read and
written, grad read, each in its dtype) at the bandwidth that the float32 same-traffic
kernel (fusedoptim.bench's "roofline" for float32 Adam) reaches in the same run and
thread count.

    python benchmarks/half.py --threads 1,2 --repeats 7
"""
import argparse
import statistics

import ml_dtypes
import numpy as np
import torch

import fusedoptim
from fusedoptim.bench import impls
from fusedoptim.bench.timing import interleaved
from fusedoptim.bench.workloads import numel, resnet50_shapes

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
TORCH = {F32: torch.float32, F16: torch.float16, BF16: torch.bfloat16}
# (optimizer, keywords, state buffers per param)
OPTIMIZERS = {"adam": ("Adam", dict(lr=1e-3), 2), "sgd-momentum": ("SGD", dict(lr=1e-2, momentum=0.9), 1),
              "adagrad": ("Adagrad", dict(lr=1e-2), 1)}
# (name, param dtype, state dtype)
MODES = [("float32", F32, F32), ("bfloat16", BF16, BF16), ("bfloat16 + float32 state", BF16, F32),
         ("float16", F16, F16), ("float32 + bfloat16 state", F32, BF16)]


# the 8-bit class of each optimizer (float32 params; state: one uint8 code per value)
EIGHT_BIT = {"adam": "Adam8bit", "sgd-momentum": "SGD8bit"}


def traffic(p_dtype, s_dtype, n_state):
    """Bytes per value: param read and written, grad read, each state buffer read and written
    (absmax, 4 bytes per 256 values, is left out of the 8-bit modes' count: 3%)."""
    return 3 * p_dtype.itemsize + 2 * n_state * s_dtype.itemsize


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--optimizers", default="adam,sgd-momentum,adagrad")
    args = ap.parse_args()
    shapes = resnet50_shapes()
    n = numel(shapes)
    rng = np.random.default_rng(0)
    base = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads32 = [(1e-2 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    print(f"resnet50: {len(shapes)} tensors, {n:,} values; torch {torch.__version__}")
    for threads in [int(t) for t in args.threads.split(",")]:
        fusedoptim.set_num_threads(threads)
        torch.set_num_threads(threads)
        for key in args.optimizers.split(","):
            cls, kw, n_state = OPTIMIZERS[key]
            fns, info = {}, {}
            # the float32 same-traffic kernel of Adam: the bandwidth the roofline uses
            ps, gs = [p.copy() for p in base], [g.copy() for g in grads32]
            fns["roofline (float32 Adam traffic)"] = impls.roofline("adam", ps, gs, {})
            for mode, pd, sd in MODES:
                ps = [p.astype(pd) for p in base]
                gs = [g.astype(pd) for g in grads32]
                opt = getattr(fusedoptim, cls)(ps, state_dtype=None if sd == pd else sd, **kw)
                opt.step(gs)
                state = sum(v.nbytes for i in opt.state for k, v in opt.state[i].items()
                            if k != "step")
                fns[f"fusedoptim {mode}"] = (lambda o=opt, g=gs: o.step(g))
                info[f"fusedoptim {mode}"] = (traffic(pd, sd, n_state), state / n)
                if sd == pd and not (key == "sgd-momentum" and pd != F32):
                    tps = [torch.from_numpy(p.astype(np.float32)).to(TORCH[pd]) for p in ps]
                    for t, g in zip(tps, gs):
                        t.grad = torch.from_numpy(g.astype(np.float32)).to(TORCH[pd])
                    topt = getattr(torch.optim, cls)(tps, fused=True, **kw)
                    topt.step()
                    fns[f"torch fused {mode}"] = topt.step
                    info[f"torch fused {mode}"] = (traffic(pd, sd, n_state), None)
            # bfloat16 with stochastic rounding: the same traffic, another store
            ps = [p.astype(BF16) for p in base]
            gs = [g.astype(BF16) for g in grads32]
            opt = getattr(fusedoptim, cls)(ps, stochastic_rounding=True, **kw)
            opt.step(gs)
            name = "fusedoptim bfloat16, stochastic rounding"
            fns[name] = (lambda o=opt, g=gs: o.step(g))
            info[name] = (traffic(BF16, BF16, n_state), 2.0 * n_state)
            if key in EIGHT_BIT:
                ps = [p.copy() for p in base]
                opt = getattr(fusedoptim, EIGHT_BIT[key])(ps, **kw)
                opt.step(grads32)
                state = sum(v.nbytes for i in opt.state for k, v in opt.state[i].items()
                            if k.startswith(("state", "absmax")))
                name = f"fusedoptim {EIGHT_BIT[key]} (float32 + 8-bit)"
                fns[name] = (lambda o=opt: o.step(grads32))
                info[name] = (traffic(F32, np.dtype(np.uint8), n_state), state / n)
            samples = interleaved(fns, args.repeats, target_s=0.2)
            roof_s = statistics.median(samples.pop("roofline (float32 Adam traffic)"))
            bandwidth = traffic(F32, F32, 2) * n / roof_s
            print(f"\n{key}, threads={threads}: roofline bandwidth {bandwidth / 1e9:.1f} GB/s")
            print(f"  {'implementation':40s} {'ms/step':>8s} {'B/value':>8s} {'state B/param':>14s} "
                  f"{'roofline':>9s}")
            for name, s in samples.items():
                med = statistics.median(s)
                bpv, state = info[name]
                roof = bpv * n / bandwidth
                st = f"{state:.2f}" if state is not None else "-"
                print(f"  {name:40s} {med * 1e3:8.2f} {bpv:8d} {st:>14s} {roof / med:8.0%}")


if __name__ == "__main__":
    main()
