"""Time per step of the native 8-bit blockwise Adam (fusedoptim._core.blockwise8_step,
kind "adam") against fusedoptim's own 32-bit Adam (fusedoptim.functional.adam) on
ResNet-50's float32 parameter shapes, with the bytes of optimizer state per param.

Every tensor keeps 8-bit state here (a param below bitsandbytes' min_8bit_size of 4096
values would keep float32 moments: pass --min-8bit-size 4096 to time that mix).

    python benchmarks/eightbit.py --threads 1,2 --repeats 7
"""
import argparse
import statistics

import numpy as np

import fusedoptim
from fusedoptim import _core
from fusedoptim import functional as F
from fusedoptim.bench.timing import interleaved
from fusedoptim.bench.workloads import numel, resnet50_shapes
from fusedoptim.reference import _eightbit as R

HYPER = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-8bit-size", type=int, default=0)
    args = ap.parse_args()
    shapes = resnet50_shapes()
    n = numel(shapes)
    rng = np.random.default_rng(0)
    base = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [(1e-2 * rng.standard_normal(s)).astype(np.float32) for s in shapes]
    q1, q2 = R.dynamic_map(signed=True), R.dynamic_map(signed=False)

    # 8-bit: codes + absmax per moment (float32 moments below min_8bit_size)
    p8 = [p.copy() for p in base]
    s1, s2, a1, a2 = [], [], [], []
    for p in p8:
        if p.size >= args.min_8bit_size:
            blocks = -(-p.size // 256)
            s1.append(np.zeros(p.shape, np.uint8))
            s2.append(np.zeros(p.shape, np.uint8))
            a1.append(np.zeros(blocks, np.float32))
            a2.append(np.zeros(blocks, np.float32))
        else:
            s1.append(np.zeros(p.shape, np.float32))
            s2.append(np.zeros(p.shape, np.float32))
            a1.append(None)
            a2.append(None)
    step8 = [0]

    def adam8():
        step8[0] += 1
        _core.blockwise8_step("adam", p8, grads, s1, s2, a1, a2, q1, q2, step=step8[0], **HYPER)

    # 32-bit: fusedoptim's functional Adam
    p32 = [p.copy() for p in base]
    m32 = [np.zeros_like(p) for p in p32]
    v32 = [np.zeros_like(p) for p in p32]
    step32 = [0]

    def adam32():
        step32[0] += 1
        F.adam(p32, grads, m32, v32, None, step32[0], **HYPER)

    bytes8 = sum(a.nbytes for a in s1 + s2 + a1 + a2 if a is not None) / n
    bytes32 = sum(a.nbytes for a in m32 + v32) / n
    print(f"resnet50: {len(shapes)} tensors, {n:,} float32 values")
    print(f"optimizer state per param: 8-bit Adam {bytes8:.3f} B, 32-bit Adam {bytes32:.3f} B")
    print(f"ISA {fusedoptim.build_info()['isa']}")
    for threads in [int(t) for t in args.threads.split(",")]:
        fusedoptim.set_num_threads(threads)
        samples = interleaved({"adam8": adam8, "adam32": adam32}, args.repeats, target_s=0.2)
        t8 = statistics.median(samples["adam8"]) * 1e3
        t32 = statistics.median(samples["adam32"]) * 1e3
        print(f"threads {threads}: 8-bit Adam {t8:7.2f} ms/step, 32-bit Adam {t32:7.2f} ms/step, "
              f"32-bit / 8-bit = {t32 / t8:.2f}x")


if __name__ == "__main__":
    main()
