"""Type stubs of fusedoptim._core, the compiled core (csrc/bindings/*.cpp).

A work is ``(family, flags, scalars, operands, names)``: see csrc/bindings/work_parse.h.
"""
from collections.abc import Sequence
from typing import Any, ClassVar, Optional, TypedDict

import numpy as np

from ._typing import Work

class StalePlan(Exception):
    """A Plan that no longer applies; nothing was changed."""

class Plan:
    """A checked step reused while only gradients and scalars change."""

    def __init__(self, works: list[Work]) -> None: ...
    def __len__(self) -> int: ...
    def run(self, grads: list[Any], scalars: list[Sequence[float]], grad_scale: float = 1.0) -> None: ...

class Reduction:
    """The multi-tensor reductions of :func:`reduce` (a pybind11 enum)."""

    SUM_SQUARES: ClassVar[Reduction]
    MAX_ABS: ClassVar[Reduction]
    SUM_POW: ClassVar[Reduction]
    FINITE_PROBE: ClassVar[Reduction]
    DOT: ClassVar[Reduction]
    __members__: ClassVar[dict[str, Reduction]]

    def __init__(self, value: int) -> None: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...

class _CpuFeatures(TypedDict):
    sse4_2: bool
    avx: bool
    avx2: bool
    fma: bool
    avx512f: bool
    os_avx: bool
    os_avx512: bool

class _BuildInfo(TypedDict):
    compiler: str
    openmp: bool
    openmp_version: Optional[int]
    num_threads: int
    isa_compiled: list[str]
    isa_supported: list[str]
    isa: str
    cpu_features: _CpuFeatures
    chunk_elems: int

class _KernelSpec(TypedDict):
    id: int
    operands: list[tuple[str, bool, int]]
    scalars: list[str]
    flags: dict[str, int]

def run(works: list[Work], grad_scale: float = 1.0) -> None:
    """Check every work completely, then apply all of them in one multi-tensor pass."""

def apply_sums(works: list[Work]) -> np.ndarray:
    """Check every work completely, then apply all of them in one multi-tensor pass and
    return each tensor's sums of squares (float64, shape (tensors, 2), in work order) for
    families whose update also sums (LAMB's moments, LARS's norms)."""

def validate(works: list[Work]) -> None:
    """Run every check of run() and change nothing."""

def check_params(arrays: Sequence[Any], names: Optional[Sequence[str]] = None) -> None:
    """Check arrays an optimizer will update in place."""

def same_key(stored: object, live: object) -> bool:
    """Whether a plan's stored key equals the live one (numbers of the same type only)."""

def reduce(kind: Reduction, arrays: list[Any], scalar: float = 1.0,
           names: Optional[Sequence[str]] = None, others: Optional[list[Any]] = None) -> float:
    """One multi-tensor reduction over every element of every array."""

def pack(arrays: Sequence[np.ndarray], out: np.ndarray, offset: int = 0,
         names: Optional[Sequence[str]] = None) -> int:
    """Copy the arrays back to back into out[offset:]; return the next free element."""

def unpack(flat: np.ndarray, arrays: Sequence[np.ndarray], offset: int = 0, scale: float = 1.0,
           names: Optional[Sequence[str]] = None) -> int:
    """Set each array from consecutive ranges of flat[offset:] times scale (multiplied in
    the dtype: ``x * np.float32(scale)`` for float32; scale == 1 copies exactly); return the
    end offset."""

def adafactor_check(params: Sequence[Any], grads: Sequence[Any], row_vars: Sequence[Any],
                    col_vars: Sequence[Any], variances: Sequence[Any],
                    names: Optional[Sequence[str]] = None) -> None:
    """Run every check of adafactor_step and change nothing."""

def adafactor_step(params: Sequence[Any], grads: Sequence[Any], row_vars: Sequence[Any],
                   col_vars: Sequence[Any], variances: Sequence[Any], *, lr: float,
                   one_minus_beta2: float, rho: float, eps1: float, eps2: float, d: float,
                   weight_decay: float, maximize: bool,
                   names: Optional[Sequence[str]] = None) -> None:
    """One Adafactor step over every array (checked first; eps1 < 0: each dtype's epsilon)."""

def blockwise8_check(kind: str, params: Sequence[Any], grads: Sequence[Any],
                     state1s: Sequence[Any], state2s: Optional[Sequence[Any]],
                     absmax1s: Sequence[Any], absmax2s: Optional[Sequence[Any]],
                     qmap1: Optional[np.ndarray], qmap2: Optional[np.ndarray],
                     names: Optional[Sequence[str]] = None) -> None:
    """Run every check of blockwise8_step and change nothing."""

def blockwise8_step(kind: str, params: Sequence[Any], grads: Sequence[Any],
                    state1s: Sequence[Any], state2s: Optional[Sequence[Any]],
                    absmax1s: Sequence[Any], absmax2s: Optional[Sequence[Any]],
                    qmap1: Optional[np.ndarray], qmap2: Optional[np.ndarray],
                    names: Optional[Sequence[str]] = None, *, lr: float, beta1: float = 0.0,
                    beta2: float = 0.0, eps: float = 0.0, weight_decay: float = 0.0,
                    momentum: float = 0.0, step: int = 1) -> None:
    """One step of an 8-bit blockwise optimizer (kind 'adam', 'momentum' or 'lion') over
    every array (checked first); per param, state1s[i]'s dtype picks 8-bit (uint8) or
    32-bit (float32) state."""

def softmax_xent(logits: np.ndarray, targets: np.ndarray,
                 grad_scale: float) -> tuple[float, np.ndarray]:
    """Sum over rows of the softmax cross-entropy, and its gradient times grad_scale."""

def build_info() -> _BuildInfo:
    """What was compiled and what runs."""

def kernel_specs() -> dict[str, _KernelSpec]:
    """Operands, scalars and flag bits of every kernel family."""

def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None:
    """Threads the kernels use: 1 to 1024."""

def set_isa(name: str) -> None:
    """Force an ISA path (scalar, avx2, avx512)."""

def get_isa() -> str: ...
def _stochastic_round(src: np.ndarray, dst: np.ndarray, key: int, first: int) -> None:
    """Testing: dst <- src (float32) rounded stochastically to dst's 16-bit dtype with
    operand key ``key``, src[0] being element ``first`` of its tensor; active ISA path."""
