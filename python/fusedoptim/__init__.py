"""fusedoptim: fused multi-tensor optimizers for NumPy arrays.

One native call updates every array of a parameter group in a single pass over
memory (OpenMP threads, SIMD chosen at run time), with torch.optim's names,
keywords, defaults and formulas.
"""
from . import amp, data, functional, lr_scheduler, reference, schedules
from . import losses
from ._native import build_info, get_num_threads, set_num_threads
from .checkpoint import load, save
from .clip import all_finite, clip_grad_norm_, clip_grad_value_, global_norm
from .optim import (ASGD, LAMB, LARS, SGD, Adadelta, Adafactor, Adagrad, Adam, Adam8bit, Adamax,
                    AdamW, AdamW8bit, Lion, Lion8bit, Muon, NAdam, Optimizer, RAdam, RMSprop,
                    Rprop, SGD8bit)
from .second_order import LBFGS, DiagonalNewton, Newton

__version__ = "0.1.0"

__all__ = [
    "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Rprop", "Adamax", "NAdam", "RAdam", "Adadelta",
    "ASGD", "Lion", "LAMB", "LARS", "Adafactor", "Muon", "Optimizer",
    "Adam8bit", "AdamW8bit", "SGD8bit", "Lion8bit",
    "amp", "data", "functional", "reference", "build_info", "get_num_threads", "set_num_threads",
    "schedules", "lr_scheduler",
    "losses", "global_norm", "clip_grad_norm_", "clip_grad_value_", "all_finite",
    "Newton", "DiagonalNewton", "LBFGS",
    "save", "load",
]
