"""``selfcheck``: is this install sound? Trains a small softmax regression with
every optimizer, natively and with the NumPy reference twin, and compares.

Exit status 0 only if every optimizer brings the loss well below its start and
the native parameters equal the reference's to float64 rounding. The two runs
are independent (each computes its own gradients), so the check covers whole
trajectories and the optimizers' state handling, not only single steps.
"""
from __future__ import annotations

import time

import numpy as np

HELP = "train a small model with every optimizer and compare native against the NumPy reference"

N, D, K = 4000, 20, 4   # points, features, classes: small enough for well under a second each
BATCH, EPOCHS = 200, 5  # minibatch runs: 100 steps each
RPROP_STEPS = 100       # Rprop is a full-batch method (sign-based step sizes need exact grads)
RTOL = 1e-9             # native vs reference; both float64, only the rounding order differs
LOSS_RATIO = 0.5        # "well below its start": at most half the initial loss


def add_arguments(parser) -> None:
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the synthetic data (default 0)")
    parser.add_argument("--threads", type=int, default=None,
                        help="kernel threads (default: OMP_NUM_THREADS or the core count)")
    parser.add_argument("--isa", choices=("scalar", "avx2", "avx512"), default=None,
                        help="force an ISA path, as FUSEDOPTIM_ISA does (default: the widest)")


def make_data(seed: int):
    """Gaussian blobs around random class centres: linearly separable, mostly."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, (K, D))
    y = rng.integers(0, K, N)
    x = centres[y] + rng.normal(0.0, 1.0, (N, D))
    return x, y


def loss_and_grads(params, x, y):
    """Mean cross-entropy of softmax(x W + b) and its gradients for [W, b]."""
    w, b = params
    z = x @ w + b
    z -= z.max(axis=1, keepdims=True)  # stable log-sum-exp
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    d = np.exp(logp)
    d[rows, y] -= 1.0
    d /= len(y)
    return -logp[rows, y].mean(), [x.T @ d, d.sum(axis=0)]


def accuracy(params, x, y) -> float:
    return float(((x @ params[0] + params[1]).argmax(axis=1) == y).mean())


def train(module, name, kwargs, x, y, seed):
    """Train from zero; returns (params, seconds spent in opt.step)."""
    params = [np.zeros((D, K)), np.zeros(K)]
    opt = getattr(module, name)(params, **kwargs)
    order = np.random.default_rng(seed + 1)  # same batches for native and reference
    if name == "Rprop":
        batches = [slice(None)] * RPROP_STEPS
    else:
        batches = [idx for _ in range(EPOCHS)
                   for idx in np.array_split(order.permutation(N), N // BATCH)]
    spent = 0.0
    for idx in batches:
        _, grads = loss_and_grads(params, x[idx], y[idx])
        t0 = time.perf_counter()
        opt.step(grads)
        spent += time.perf_counter() - t0
    return params, spent


CASES = [  # (label, class, keywords): torch's defaults except the learning rates
    ("SGD momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("Adagrad", "Adagrad", dict(lr=0.1)),
    ("RMSprop", "RMSprop", dict(lr=0.01)),
    ("Adam", "Adam", dict(lr=0.01)),
    ("AdamW", "AdamW", dict(lr=0.01, weight_decay=1e-2)),
    ("Rprop (full batch)", "Rprop", dict(lr=0.01)),
    ("Adamax", "Adamax", dict(lr=0.01)),
    ("NAdam", "NAdam", dict(lr=0.01)),
    ("RAdam", "RAdam", dict(lr=0.01)),
    ("Adadelta", "Adadelta", dict(lr=1.0)),
    ("ASGD", "ASGD", dict(lr=0.1)),
    ("Lion", "Lion", dict(lr=1e-3)),
]


def describe_cuda(cuda: dict) -> str:
    if not cuda["built"]:
        return "not built (" + cuda["hint"] + ")"
    text = f"built for {cuda['architectures']}, CUDA {cuda['runtime_version']}; "
    if cuda["device"]:
        cc = ".".join(map(str, cuda["compute_capability"]))
        return text + f"device {cuda['device']} (compute capability {cc})"
    return text + f"no device ({cuda['error']})"


def print_build_info(info: dict) -> None:
    print("fusedoptim build")
    for key in sorted(info):
        value = info[key]
        if key == "cuda":
            value = describe_cuda(value)
        elif isinstance(value, dict):  # cpu_features: the ones present
            value = [k for k, v in value.items() if v] or "none"
        print(f"  {key:<16} {', '.join(value) if isinstance(value, list) else value}")


def run(args) -> int:
    import fusedoptim
    from fusedoptim import _native, reference

    try:
        if args.threads is not None:
            fusedoptim.set_num_threads(args.threads)
        if args.isa is not None:
            _native.set_isa(args.isa)  # refused if this CPU or this build lacks the ISA
    except (TypeError, ValueError) as exc:
        print(f"fusedoptim selfcheck: {exc}")
        return 2  # argparse's status for a bad option
    print_build_info(fusedoptim.build_info())

    x, y = make_data(args.seed)
    start = float(loss_and_grads([np.zeros((D, K)), np.zeros(K)], x, y)[0])
    print(f"\nsoftmax regression: {N} points, {D} features, {K} classes, float64; "
          f"initial loss {start:.4f}")
    header = (f"{'optimizer':<20}{'loss':>8}{'acc':>8}{'max|nat-ref|':>14}"
              f"{'native ms':>11}{'ref ms':>9}  ok")
    print(header + "\n" + "-" * len(header))
    failures = []
    for label, name, kwargs in CASES:
        try:
            p_nat, t_nat = train(fusedoptim, name, kwargs, x, y, args.seed)
            p_ref, t_ref = train(reference, name, kwargs, x, y, args.seed)
        except Exception as exc:  # report it with the others rather than stop the check
            print(f"{label:<20}{'raised':>8}  {type(exc).__name__}")
            failures.append(f"{label}: raised {type(exc).__name__}: {exc}")
            continue
        loss = float(loss_and_grads(p_nat, x, y)[0])
        diff = max(float(np.abs(a - b).max()) for a, b in zip(p_nat, p_ref))
        scale = max(1.0, max(float(np.abs(b).max()) for b in p_ref))
        problems = []
        if not loss <= LOSS_RATIO * start:  # also catches NaN
            problems.append(f"loss {loss:.4g} is not below {LOSS_RATIO} x the initial {start:.4g}")
        if not diff <= RTOL * scale:
            problems.append(f"native differs from reference by {diff:.3g} "
                            f"(allowed {RTOL * scale:.3g})")
        print(f"{label:<20}{loss:>8.4f}{accuracy(p_nat, x, y):>8.3f}{diff:>14.2e}"
              f"{t_nat * 1e3:>11.2f}{t_ref * 1e3:>9.2f}  {'no' if problems else 'yes'}")
        failures += [f"{label}: {p}" for p in problems]
    print("\n(times: all opt.step calls of a run; a model this small measures call overhead,\n"
          " not kernel speed: see benchmarks/)")
    if failures:
        print("\nSELFCHECK FAILED")
        for f in failures:
            print("  " + f)
        return 1
    print("\nselfcheck passed: every optimizer trains and matches the reference")
    return 0
