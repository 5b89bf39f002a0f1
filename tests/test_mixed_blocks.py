"""The 16-bit steps' block kernels (csrc/engine/mixed_block.h: each vector of values
converted, updated and rounded in registers) against the tiles they replace on the vector
paths (csrc/engine/mixed_apply.cpp) and against each other: bitwise, for every optimizer
of the registry and every storage mode (16-bit params and state, float32 state, 16-bit
state of float32 params, master weights, stochastic rounding, loss scaling), on sizes
with partial vectors and with segments that start inside a tensor.

Each kernel set runs in a child process, chosen by environment variables:
FUSEDOPTIM_ISA (the path), FUSEDOPTIM_MIXED_TILES=1 (the tiles), FUSEDOPTIM_NO_AVX512BF16=1
(the AVX-512 blocks without the CPU's bfloat16 conversion). Tolerance: none. The blocks
run the same float32 rule on the same values and round with the same functions and random
bits, so every bit of every param and state buffer must agree within one ISA path. (Across
paths they may differ where the compiler contracts differently; test_half_precision.py
bounds that against the reference.)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fusedoptim import _native

pytest.importorskip("ml_dtypes")

ISAS = [i for i in _native.build_info()["isa_supported"] if i != "scalar"]
HERE = os.path.dirname(os.path.abspath(__file__))

_CHILD = r"""
import hashlib, json, sys
import numpy as np
import ml_dtypes
import fusedoptim as fo
from registry import CONFIGS

BF16, F16, F32 = np.dtype(ml_dtypes.bfloat16), np.dtype(np.float16), np.dtype(np.float32)
# (param dtype, keywords, grad_scale)
MODES = {
    "bfloat16": (BF16, {}, None),
    "float16": (F16, {}, None),
    "bfloat16+float32 state": (BF16, {"state_dtype": np.float32}, None),
    "float16+bfloat16 state+master": (F16, {"state_dtype": BF16, "master_weights": True}, None),
    "bfloat16+master": (BF16, {"master_weights": True}, None),
    "float32+bfloat16 state": (F32, {"state_dtype": BF16}, None),
    "bfloat16 stochastic+master": (BF16, {"stochastic_rounding": True, "master_weights": True}, None),
    "float16 stochastic": (F16, {"stochastic_rounding": True}, None),
    "float16 scaled": (F16, {}, 1024.0),
    "bfloat16 stochastic scaled": (BF16, {"stochastic_rounding": True}, 256.0),
}
# Partial vectors, and one tensor longer than a chunk (32,768): segments inside it.
SHAPES = [(1,), (15,), (17,), (33, 3), (70_001,)]

out = {"path": fo.build_info()["mixed_kernels"], "runs": {}}
for ci, (name, opts) in enumerate(CONFIGS):
    for mode, (dtype, kw, scale) in MODES.items():
        rng = np.random.default_rng(1000 * ci + len(mode))
        params = [rng.standard_normal(s).astype(np.float32).astype(dtype) for s in SHAPES]
        try:
            opt = getattr(fo, name)(params, **opts, **kw)
        except (TypeError, ValueError, NotImplementedError) as e:
            out["runs"][f"{name}{opts} {mode}"] = "refused: " + type(e).__name__
            continue
        opt.rounding_seed = 0x9E3779B97F4A7C15 + ci  # drawn at random otherwise
        for step in range(3):
            grads = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
            if scale is None:
                opt.step([g.astype(dtype) for g in grads])
            else:
                opt.step([(g * scale).astype(dtype) for g in grads], grad_scale=scale)
        h = hashlib.sha256()
        for i, p in enumerate(params):
            h.update(np.ascontiguousarray(p).view(np.uint8).tobytes())
            for key in sorted(opt.state[i]):
                v = opt.state[i][key]
                if isinstance(v, np.ndarray):
                    h.update(key.encode())
                    h.update(np.ascontiguousarray(v).view(np.uint8).tobytes())
        out["runs"][f"{name}{opts} {mode}"] = h.hexdigest()
print(json.dumps(out))
"""


def _run(env_extra):
    env = dict(os.environ, **env_extra)
    env["PYTHONPATH"] = os.pathsep.join([HERE, env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _kernel_sets(isa):
    sets = [({"FUSEDOPTIM_ISA": isa, "FUSEDOPTIM_MIXED_TILES": "1"}, "tiles"),
            ({"FUSEDOPTIM_ISA": isa, "FUSEDOPTIM_NO_AVX512BF16": "1"}, isa)]
    if isa == "avx512":
        sets.append(({"FUSEDOPTIM_ISA": isa}, None))  # avx512bf16 where the CPU has it
    return sets


@pytest.mark.parametrize("isa", ISAS)
def test_blocks_equal_tiles_bit_for_bit(isa):
    results = []
    for env, expected_path in _kernel_sets(isa):
        got = _run(env)
        if expected_path is not None:
            assert got["path"] == expected_path, (env, got["path"])
        results.append(got)
    paths = [r["path"] for r in results]
    base = results[0]["runs"]
    ran = [k for k, v in base.items() if not v.startswith("refused")]
    # Every one-pass optimizer takes every mode; the multi-pass ones take some.
    assert len(ran) >= 300, len(ran)
    for r in results[1:]:
        differ = [k for k in base if r["runs"][k] != base[k]]
        assert not differ, f"{r['path']} differs from {paths[0]} in {len(differ)} runs: {differ[:5]}"


def test_kernel_path_is_reported():
    """build_info() names the kernels 16-bit steps run on; the switches change it."""
    info = _native.build_info()
    assert info["mixed_kernels"] in ("tiles", "avx2", "avx512", "avx512bf16")
    assert _run({"FUSEDOPTIM_MIXED_TILES": "1"})["path"] == "tiles"
    if "scalar" in info["isa_supported"]:
        assert _run({"FUSEDOPTIM_ISA": "scalar"})["path"] == "tiles"
