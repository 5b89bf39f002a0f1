"""Stateless optimizer updates over lists of NumPy arrays (or CUDA device arrays), run by the
fused native kernels.

Each function updates ``params`` and the state lists in place in one native call
(one pass over memory, OpenMP threads, SIMD) and only reads ``grads``. The
formulas are torch.optim's; each docstring states its own. For users who keep
their own state; the optimizer classes call the ``*_work`` builders, so every
group of a step goes to the native layer in one call and is checked completely
before anything changes.

One module per optimizer family (``_adam.py`` ...): its per-step scalars, its work
builder and its entry point. What they share is in ``_kernel.py``.
"""
from __future__ import annotations

from ._adafactor import adafactor, adafactor_scalars, adafactor_work
from ._adadelta import adadelta, adadelta_scalars, adadelta_work
from ._adagrad import adagrad, adagrad_scalars, adagrad_work
from ._adam import adam, adam_scalars, adam_work, adamw
from ._adamax import adamax, adamax_scalars, adamax_work
from ._asgd import asgd, asgd_next, asgd_scalars, asgd_work
from ._blockwise8 import blockwise8, blockwise8_work
from ._kernel import SCALARS
from ._lamb import lamb, lamb_moments_scalars, lamb_update_scalars, lamb_work
from ._lars import lars, lars_norms_scalars, lars_update_scalars, lars_work
from ._lion import lion, lion_scalars, lion_work
from ._muon import muon, muon_scalars, muon_work
from ._nadam import nadam, nadam_mu_product, nadam_scalars, nadam_work
from ._radam import radam, radam_scalars, radam_work
from ._rmsprop import rmsprop, rmsprop_scalars, rmsprop_work
from ._rprop import rprop, rprop_scalars, rprop_work
from ._sgd import sgd, sgd_missing_buffers, sgd_scalars, sgd_work

__all__ = ["sgd", "adagrad", "rmsprop", "adam", "adamw", "rprop", "adamax", "nadam", "radam",
           "adadelta", "asgd", "lion", "lamb", "lars", "adafactor", "muon",
           "blockwise8"]
