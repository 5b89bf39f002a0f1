"""Test accuracy of the digits MLP (the demo's: 64-128-10 ReLU, batch 32, 30 epochs,
Adam lr 2e-3 as in the demo) trained with 16-bit params or state, or with Adam8bit (8-bit
moments for the 64x128 weight, float32 for the smaller arrays, bitsandbytes' rule): the
forward and backward passes run in float32 on float32 copies of the params, the grads
are rounded to the params' dtype, and the optimizer steps the 16-bit params.

    python benchmarks/half_accuracy.py --seeds 0,1,2
"""
import argparse

import ml_dtypes
import numpy as np

import fusedoptim
from fusedoptim import data as fdata
from fusedoptim.cli import _mlp
from fusedoptim.cli.demo import BATCH, EPOCHS, SIZES, load_digits

BF16 = np.dtype(ml_dtypes.bfloat16)
MODES = [("float32", np.float32, None), ("float32 + bfloat16 state", np.float32, BF16),
         ("bfloat16 + float32 state", BF16, np.float32), ("bfloat16", BF16, None),
         ("float16", np.float16, None), ("Adam8bit (8-bit state)", np.float32, "8bit")]


def run(seed, p_dtype, state_dtype, lr):
    x_tr, y_tr, x_te, y_te = load_digits(seed, np.float32)
    params = [p.astype(p_dtype) for p in _mlp.init_params(SIZES, np.random.default_rng(seed))]
    if state_dtype == "8bit":
        opt = fusedoptim.Adam8bit(params, lr=lr)
    else:
        opt = fusedoptim.Adam(params, lr=lr, state_dtype=state_dtype)
    for _ in range(EPOCHS):
        for xb, yb in fdata.minibatches(x_tr, y_tr, BATCH, shuffle=True, seed=seed):
            wide = [p.astype(np.float32) for p in params]
            _, grads = _mlp.loss_and_grads(wide, xb, yb)
            opt.step([np.asarray(g).astype(p_dtype) for g in grads])
    return _mlp.accuracy([p.astype(np.float32) for p in params], x_te, y_te)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--modes", default="", help="comma-separated mode names (default: all)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    wanted = [m for m in args.modes.split(",") if m]
    for name, pd, sd in MODES:
        if wanted and name not in wanted:
            continue
        accs = [run(s, pd, sd, args.lr) for s in seeds]
        print(f"{name:28s} test accuracy {np.mean(accs):.2%} (seeds {seeds}: "
              + ", ".join(f"{a:.2%}" for a in accs) + ")")


if __name__ == "__main__":
    main()
