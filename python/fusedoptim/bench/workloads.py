"""Benchmark workloads: lists of parameter shapes, and the optimizers to run on them."""
from __future__ import annotations

import math


def resnet50_shapes() -> list[tuple]:
    """ResNet-50's 161 parameter tensors (25,557,032 values), torchvision's order and shapes."""
    shapes = [(64, 3, 7, 7), (64,), (64,)]
    inplanes = 64
    for planes, blocks in ((64, 3), (128, 4), (256, 6), (512, 3)):
        for b in range(blocks):
            shapes += [(planes, inplanes, 1, 1), (planes,), (planes,),
                       (planes, planes, 3, 3), (planes,), (planes,),
                       (planes * 4, planes, 1, 1), (planes * 4,), (planes * 4,)]
            if b == 0:
                shapes += [(planes * 4, inplanes, 1, 1), (planes * 4,), (planes * 4,)]
            inplanes = planes * 4
    return shapes + [(1000, 2048), (1000,)]


def mlp_shapes() -> list[tuple]:
    """784-1024-1024-10 with biases, weights as (out, in)."""
    return [(1024, 784), (1024,), (1024, 1024), (1024,), (10, 1024), (10,)]


WORKLOADS = {
    "resnet50": resnet50_shapes,
    "small-many": lambda: [(256,)] * 2000,
    "large-one": lambda: [(1 << 24,)],
    "mlp": mlp_shapes,
}


def numel(shapes) -> int:
    return sum(math.prod(s) for s in shapes)


def scaled(shapes, factor: float) -> list[tuple]:
    """The workload shrunk for quick runs: every tensor's size divided by ~1/factor."""
    return [(max(1, int(math.prod(s) * factor)),) for s in shapes]


# Optimizer configurations: name -> (class name, keywords, state buffers per param).
# The buffers fix the same-traffic kernel and the bytes model: a step reads
# param, grad and each buffer and writes param and each buffer.
OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=1e-3), 0),
    "sgd-momentum": ("SGD", dict(lr=1e-3, momentum=0.9), 1),
    "nesterov": ("SGD", dict(lr=1e-3, momentum=0.9, nesterov=True), 1),
    "adagrad": ("Adagrad", dict(lr=1e-3), 1),
    "rmsprop": ("RMSprop", dict(lr=1e-4), 1),
    "adam": ("Adam", dict(lr=1e-4), 2),
    "adamw": ("AdamW", dict(lr=1e-4), 2),
    "amsgrad": ("Adam", dict(lr=1e-4, amsgrad=True), 3),
    "rprop": ("Rprop", dict(lr=1e-4), 2),
    "adamax": ("Adamax", dict(lr=1e-4), 2),
    "nadam": ("NAdam", dict(lr=1e-4), 2),
    "radam": ("RAdam", dict(lr=1e-4), 2),
    "adadelta": ("Adadelta", dict(lr=1e-4), 2),
    # ASGD before t0 copies the param into ax (writes it, reads nothing), but a store
    # to memory costs a read of the line as well (write-allocate): the traffic of one
    # buffer read and written.
    "asgd": ("ASGD", dict(lr=1e-4), 1),
    "lion": ("Lion", dict(lr=1e-5), 1),
    "lamb": ("LAMB", dict(lr=1e-5), 2),
    "lars": ("LARS", dict(lr=1e-4), 1),
    # Not one pass, and its state is not of the params' shapes: its own bytes model and
    # roofline (bench/adafactor.py); 2 bounds its state (1.25 values per param on resnet50).
    "adafactor": ("Adafactor", dict(), 2),
}

# Steps of more than one pass read some arrays again: those arrays ("params", "grads"
# or a state buffer's name), each read once more per step. LAMB's moments pass reads
# p, g, m, v and writes m, v; its update pass reads p, m, v again and writes p. LARS's
# norms pass reads p and g; its update pass reads them again with b, writes p and b.
EXTRA_READS = {
    "lamb": ("params", "exp_avg", "exp_avg_sq"),
    "lars": ("params", "grads"),
}


#: Optimizers of 2-D params only, benchmarked on matrices by their own bench
#: (python -m fusedoptim.bench.muon), not on the elementwise workloads above.
MATRIX_OPTIMIZERS = {
    "muon": ("Muon", dict(lr=0.02), 1),
}


def bytes_per_value(optimizer: str, itemsize: int, shapes=None) -> float:
    """Bytes moved per parameter value: reads (param, grad, buffers, and what a step of
    several passes reads again) + writes (param, buffers). Adafactor's depend on the
    shapes (bench/adafactor.py)."""
    if optimizer == "adafactor" and shapes is not None:
        from .adafactor import accesses
        return accesses(shapes) * itemsize
    buffers = OPTIMIZERS[optimizer][2]
    extra = len(EXTRA_READS.get(optimizer, ()))
    return ((2 + buffers + extra) + (1 + buffers)) * itemsize


def sweep_sizes(lo: float = 1e2, hi: float = 1e8) -> list[int]:
    """Total sizes from lo to hi, three per decade."""
    out, k = [], math.log10(lo)
    while k <= math.log10(hi) + 1e-9:
        out.append(int(round(10 ** k)))
        k += 1 / 3
    return out
