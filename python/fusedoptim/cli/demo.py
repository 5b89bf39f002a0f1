"""``demo``: train a small MLP (64-128-10, ReLU) on scikit-learn's bundled digits
data with every optimizer and compare them.

The lectures' recipe: softmax cross-entropy, minibatches reshuffled every epoch
(fusedoptim.data.minibatches), an optional learning-rate schedule applied each
epoch through ``opt.param_groups[0]["lr"]``. Rprop is a full-batch method (its
sign-based step sizes need exact gradients): one full-batch step per epoch, the
same number of passes over the data as the others.
Every run starts from the same initial weights and sees the batches in the same
order. Output: a progress bar per run (stderr), a table (stdout), and in
``--out``: ``loss_curves.png`` (matplotlib) and ``results.json``.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np

HELP = ("train a small MLP on scikit-learn's digits with every optimizer: "
        "a table and a PNG of the loss curves")

SIZES = (64, 128, 10)  # digits: 8x8 pixels in, 10 classes out
BATCH = 32
EPOCHS, QUICK_EPOCHS = 30, 10
RPROP_STEPS_PER_EPOCH = 1  # full-batch steps per epoch: one pass over the data, as the others
TARGET = 0.95              # the test accuracy Adam must reach

#: (label, optimizer class, keywords, full batch): torch's defaults except where
#: the learning rate (and AdamW's weight decay) needs a value for this problem.
RUNS = [
    ("SGD", "SGD", dict(lr=0.1), False),
    ("Momentum", "SGD", dict(lr=0.02, momentum=0.9), False),
    ("Nesterov", "SGD", dict(lr=0.02, momentum=0.9, nesterov=True), False),
    ("Adagrad", "Adagrad", dict(lr=0.05), False),
    ("RMSprop", "RMSprop", dict(lr=1e-3), False),
    ("Adam", "Adam", dict(lr=2e-3), False),
    ("AdamW", "AdamW", dict(lr=2e-3, weight_decay=1e-2), False),
    ("Rprop", "Rprop", dict(lr=1e-2), True),
]

SCHEDULES = ("none", "step", "cosine")


def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true",
                   help=f"{QUICK_EPOCHS} epochs instead of {EPOCHS} (for tests; Adam still "
                        f"reaches {TARGET * 100:.0f}%%)")  # %%: argparse formats help with %
    p.add_argument("--epochs", type=int, default=None,
                   help=f"epochs per run (default {EPOCHS}, {QUICK_EPOCHS} with --quick)")
    p.add_argument("--schedule", choices=SCHEDULES, default="none",
                   help="learning-rate decay per epoch: none; step (halved after every "
                        "quarter of the run); cosine (to 0 at the end). Default none")
    p.add_argument("--out", default="demo-out",
                   help="folder of loss_curves.png and results.json (default demo-out)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the train/test split, the initial weights and the batch "
                        "order (default 0)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="dtype of the data and the weights (default float32)")
    p.add_argument("--distributed", action="store_true",
                   help="Adam only, data-parallel over MPI with ZeroRedundancyOptimizer "
                        "(mpirun -n 2 python -m mpi4py -m fusedoptim demo --distributed; "
                        "needs fusedoptim[mpi]), compared with one process on rank 0")


def lr_factor(schedule: str, epoch: int, epochs: int) -> float:
    """The multiplier of the base learning rate during ``epoch`` (0-based)."""
    if schedule == "step":
        return 0.5 ** (epoch // max(1, epochs // 4))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))
    return 1.0


def load_digits(seed: int, dtype):
    """The digits, split 75/25 (stratified, seeded) and standardised on the training part."""
    from sklearn.datasets import load_digits as _load
    from sklearn.model_selection import train_test_split

    x, y = _load(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=seed,
                                              stratify=y)
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std[std == 0] = 1.0  # pixels that are always blank in the training set
    x_tr, x_te = ((a - mean) / std for a in (x_tr, x_te))
    return (np.ascontiguousarray(x_tr, dtype), y_tr.astype(np.int64),
            np.ascontiguousarray(x_te, dtype), y_te.astype(np.int64))


def digits_or_explain(seed: int, dtype):
    """load_digits, or None after saying on stderr that scikit-learn is missing."""
    try:
        return load_digits(seed, dtype)
    except ImportError:
        print("fusedoptim demo: needs scikit-learn for its bundled digits data "
              "(no download): pip install scikit-learn, or fusedoptim[demo]", file=sys.stderr)
        return None


class Progress:
    """A plain-text progress bar on stderr: redrawn in place on a terminal, one
    final line otherwise (logs, captured output)."""

    def __init__(self, label: str, total: int, stream=None, width: int = 24):
        self.label, self.total, self.width = label, total, width
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, done: int, loss: float, acc: float, end: bool = False) -> None:
        if not (self.live or end):
            return
        fill = self.width * done // self.total
        line = (f"{self.label:<9}[{'#' * fill}{'.' * (self.width - fill)}] {done:>3}/{self.total} "
                f"epochs  loss {loss:.4f}  test {acc:6.2%}")
        self.stream.write(("\r" + line if self.live else line) + ("\n" if end else ""))
        self.stream.flush()


def train_one(label, cls, kwargs, full_batch, data, epochs, schedule, seed, dtype):
    """One run; returns a dict of its results and per-epoch curves."""
    from .. import data as fdata
    from . import _mlp

    x_tr, y_tr, x_te, y_te = data
    params = _mlp.init_params(SIZES, np.random.default_rng(seed), dtype)  # same start for all
    opt = cls(params, **kwargs)
    base_lr = opt.param_groups[0]["lr"]
    if full_batch:
        batches = [(x_tr, y_tr)] * RPROP_STEPS_PER_EPOCH
    else:
        batches = fdata.minibatches(x_tr, y_tr, BATCH, shuffle=True, seed=seed)
    bar = Progress(label, epochs)
    losses, test_accs, seconds, steps = [], [], 0.0, 0
    for epoch in range(epochs):
        if not full_batch:  # Rprop's lr is only its initial step size: no schedule
            opt.param_groups[0]["lr"] = base_lr * lr_factor(schedule, epoch, epochs)
        t0 = time.perf_counter()
        for xb, yb in batches:
            _, grads = _mlp.loss_and_grads(params, xb, yb)
            opt.step(grads)
            steps += 1
        seconds += time.perf_counter() - t0
        losses.append(_mlp.loss_and_grads(params, x_tr, y_tr)[0])  # the whole training set
        test_accs.append(_mlp.accuracy(params, x_te, y_te))
        bar.update(epoch + 1, losses[-1], test_accs[-1], end=epoch + 1 == epochs)
    return dict(optimizer=label, hyperparameters=kwargs, full_batch=full_batch, steps=steps,
                train_acc=_mlp.accuracy(params, x_tr, y_tr), test_acc=test_accs[-1],
                final_loss=losses[-1], seconds=seconds, loss_curve=losses,
                test_acc_curve=test_accs)


def print_table(results, stream=None) -> None:
    stream = stream or sys.stdout
    header = (f"{'optimizer':<10}{'train acc':>10}{'test acc':>10}{'final loss':>12}"
              f"{'time s':>8}{'steps':>7}  hyperparameters")
    print(header + "\n" + "-" * len(header), file=stream)
    for r in results:
        hp = ", ".join(f"{k}={v}" for k, v in r["hyperparameters"].items())
        hp += ", full batch" if r["full_batch"] else ""
        print(f"{r['optimizer']:<10}{r['train_acc']:>10.2%}{r['test_acc']:>10.2%}"
              f"{r['final_loss']:>12.4g}{r['seconds']:>8.2f}{r['steps']:>7}  {hp}", file=stream)


def plot(results, path, title) -> bool:
    """Training loss and test accuracy per epoch, one line per optimizer. Returns
    False when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.8))
    for r in results:
        epochs = np.arange(1, len(r["loss_curve"]) + 1)
        style = "--" if r["full_batch"] else "-"
        # floored: a loss rounded to 0 has no place on a log axis
        ax_loss.plot(epochs, np.maximum(r["loss_curve"], 1e-12), style, label=r["optimizer"])
        ax_acc.plot(epochs, r["test_acc_curve"], style, label=r["optimizer"])
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="training loss (cross-entropy)",
                title="training loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy", title="test accuracy",
               ylim=(max(0.0, min(min(r["test_acc_curve"]) for r in results) - 0.02), 1.0))
    ax_acc.axhline(TARGET, color="0.7", lw=0.8)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    ax_acc.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def run(args) -> int:
    import fusedoptim

    epochs = args.epochs if args.epochs is not None else (QUICK_EPOCHS if args.quick else EPOCHS)
    if epochs < 1:
        print(f"fusedoptim demo: --epochs must be at least 1, got {epochs}", file=sys.stderr)
        return 2
    if args.distributed:
        from . import demo_distributed
        return demo_distributed.run(args, epochs)
    dtype = np.dtype(args.dtype)
    data = digits_or_explain(args.seed, dtype)
    if data is None:
        return 1
    x_tr, _, x_te, _ = data
    print(f"digits: {len(x_tr)} training and {len(x_te)} test images, 64 pixels, 10 classes; "
          f"MLP {'-'.join(map(str, SIZES))} (ReLU), {dtype.name}, batch {BATCH}, "
          f"{epochs} epochs, schedule {args.schedule}")
    results = []
    for label, name, kwargs, full_batch in RUNS:
        results.append(train_one(label, getattr(fusedoptim, name), kwargs, full_batch, data,
                                 epochs, args.schedule, args.seed, dtype))
    print()
    print_table(results)
    print("\n(final loss: cross-entropy on the whole training set; time: the training steps,\n"
          " forward and backward included; Rprop: full-batch steps, each a pass over the data,\n"
          " without the schedule, as its lr is only its initial step size)")

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(dict(epochs=epochs, schedule=args.schedule, seed=args.seed, dtype=dtype.name,
                       batch_size=BATCH, sizes=SIZES, runs=results), f, indent=1)
    png = os.path.join(args.out, "loss_curves.png")
    title = (f"MLP {'-'.join(map(str, SIZES))} on digits, batch {BATCH}, "
             f"schedule {args.schedule}")
    if plot(results, png, title):
        print(f"loss curves: {png}")
    else:
        print("loss curves: skipped (matplotlib is not installed: pip install matplotlib, "
              "or fusedoptim[demo])")
    print(f"results: {os.path.join(args.out, 'results.json')}")
    adam = next(r for r in results if r["optimizer"] == "Adam")
    print(f"Adam test accuracy: {adam['test_acc']:.4f} "
          f"({'reaches' if adam['test_acc'] >= TARGET else 'below'} {TARGET:.0%})")
    return 0
