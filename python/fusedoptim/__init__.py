"""fusedoptim: fused multi-tensor optimizers for NumPy arrays.

One native call updates every array of a parameter group in a single pass over
memory (OpenMP threads, SIMD chosen at run time), with torch.optim's names,
keywords, defaults and formulas.
"""
from . import functional, reference
from ._native import build_info, get_num_threads, set_num_threads
from .optim import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, Rprop

__version__ = "0.1.0"

__all__ = [
    "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop", "Optimizer",
    "functional", "reference", "build_info", "get_num_threads", "set_num_threads",
]
