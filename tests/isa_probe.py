"""Run as a script (natively or under qemu-x86_64 -cpu ..., see tests/emulated_cpu.py):
    python isa_probe.py EXPECTED_ISA
imports fusedoptim, checks the ISA path it picked, and compares one step of every
optimizer and option of the registry (float32 and float64), global_norm,
clip_grad_norm_ and the softmax cross-entropy with the NumPy reference. Prints one
"ok ..." line per check and "PROBE OK <isa>" at the end; exits non-zero on any mismatch.

    python isa_probe.py --fingerprint
prints "FINGERPRINT <isa> <mixed kernels> <sha256>": the hash of every param and state
buffer after three steps of every optimizer of the registry but Muon in float64,
float32, bfloat16, float16, bfloat16 with float32 state and a master copy, and float32
with bfloat16 state. Every ISA path computes each element with the same operations (the
ISA kernels are compiled with -ffp-contract=off), so the hash is the same on every CPU
and path. Muon is left out: its Newton-Schulz products run in NumPy's BLAS, whose
summation order depends on the CPU (its hash differs between this machine and Haswell
under qemu).

Tolerances are the native-vs-reference ones (tests/test_native_vs_reference.py):
float64 1e-12, float32 1e-5 relative to each array's largest magnitude; one step
differs only by FMA contraction and the order of a few roundings.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fusedoptim  # noqa: E402
from fusedoptim import reference  # noqa: E402
from fusedoptim.reference import clip as ref_clip, losses as ref_losses  # noqa: E402
from registry import CONFIGS, IDS, assert_close, make_grads, make_params, shapes_for  # noqa: E402

TOL = {np.float64: 1e-12, np.float32: 1e-5}
# Small shapes plus one of three chunks (kChunkElems = 2^15), so a step is cut into
# several work units and spread over threads, yet fast under emulation.
SHAPES = [(0,), (), (1,), (7,), (31, 33), (3 * (1 << 15) + 5,)]


def main(expected: str) -> None:
    info = fusedoptim.build_info()
    assert info["isa"] == expected, f"picked {info['isa']!r}, expected {expected!r}: {info}"
    print("ok isa", info["isa"], info["cpu_features"])
    fusedoptim.set_num_threads(2)
    rng = np.random.default_rng(7)
    for dtype in (np.float64, np.float32):
        for (name, kw), cid in zip(CONFIGS, IDS):
            init = make_params(rng, shapes_for(name, SHAPES), dtype)
            grads = [make_grads(rng, init) for _ in range(2)]
            native, ref = [p.copy() for p in init], [p.copy() for p in init]
            opt_n = getattr(fusedoptim, name)(native, **kw)
            opt_r = getattr(reference, name)(ref, **kw)
            for g in grads:  # two steps: the second reads the state the first wrote
                opt_n.step(g)
                opt_r.step(g)
            for i, (a, b) in enumerate(zip(native, ref)):
                assert_close(a, b, TOL[dtype], err_msg=f"{cid} {dtype.__name__} param {i}")
        print("ok optimizers", np.dtype(dtype).name, len(CONFIGS))

        arrays = make_params(rng, SHAPES, dtype)
        assert_close(fusedoptim.global_norm(arrays), ref_clip.global_norm(arrays), TOL[dtype])
        clipped, ref_clipped = [a.copy() for a in arrays], [a.copy() for a in arrays]
        total = fusedoptim.clip_grad_norm_(clipped, max_norm=1.0)
        ref_total = ref_clip.clip_grad_norm_(ref_clipped, max_norm=1.0)
        assert_close(total, ref_total, TOL[dtype])
        for a, b in zip(clipped, ref_clipped):
            assert_close(a, b, TOL[dtype])
        print("ok clip", np.dtype(dtype).name)

        logits = rng.standard_normal((64, 10)).astype(dtype)
        labels = rng.integers(0, 10, 64)
        loss, grad = fusedoptim.losses.softmax_cross_entropy(logits, labels)
        ref_loss, ref_grad = ref_losses.softmax_cross_entropy(logits, labels)
        assert_close(loss, ref_loss, TOL[dtype])
        assert_close(grad, ref_grad, TOL[dtype])
        print("ok loss", np.dtype(dtype).name)
    print("PROBE OK", info["isa"])


def fingerprint() -> str:
    import hashlib

    import ml_dtypes
    bf16 = np.dtype(ml_dtypes.bfloat16)
    modes = [(np.float64, {}), (np.float32, {}), (bf16, {}), (np.float16, {}),
             (bf16, {"state_dtype": np.float32, "master_weights": True}),
             (np.float32, {"state_dtype": bf16})]
    h = hashlib.sha256()
    fusedoptim.set_num_threads(2)
    for (name, kw), cid in zip(CONFIGS, IDS):
        if name == "Muon":
            continue
        for dtype, extra in modes:
            rng = np.random.default_rng(11)
            params = [p.astype(dtype) for p in make_params(rng, shapes_for(name, SHAPES[:5]),
                                                           np.float32)]
            try:
                opt = getattr(fusedoptim, name)(params, **kw, **extra)
            except (TypeError, ValueError):
                continue  # a mode this optimizer refuses (e.g. Muon and 16-bit params)
            for _ in range(3):
                opt.step([g.astype(dtype) for g in make_grads(rng, [p.astype(np.float32)
                                                                     for p in params])])
            h.update(cid.encode())
            for i, p in enumerate(params):
                h.update(np.ascontiguousarray(p).tobytes())
                for key in sorted(opt.state[i]):
                    v = opt.state[i][key]
                    if isinstance(v, np.ndarray):
                        h.update(np.ascontiguousarray(v).tobytes())
    return h.hexdigest()


if __name__ == "__main__":
    if sys.argv[1] == "--fingerprint":
        info = fusedoptim.build_info()
        print("FINGERPRINT", info["isa"], info["mixed_kernels"], fingerprint())
    else:
        main(sys.argv[1])
