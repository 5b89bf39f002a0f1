"""Type stubs of fusedoptim._cuda_emulator and fusedoptim._cuda: the CUDA kernels over
device arrays (csrc/bindings/device_module.cpp), built for the GPU (_cuda) or to run on
the host (_cuda_emulator, for tests). The stubs live here, with the module every build
has, so that tests/test_typing.py checks them against it; _cuda.pyi re-exports them.
Works are the host module's; arrays are read through ``__cuda_array_interface__``;
``stream`` is a cudaStream_t as an int (0: the default).
"""
from collections.abc import Callable, Sequence
from typing import Any, Optional, TypedDict

import numpy as np

from ._typing import Work

class StalePlan(Exception):
    """A Plan that no longer applies; nothing was changed."""

class Plan:
    """A checked device step reused while only gradients and scalars change."""

    def __init__(self, works: list[Work]) -> None: ...
    def __len__(self) -> int: ...
    def run(self, grads: list[Any], scalars: list[Sequence[float]], stream: int = 0) -> None: ...

class _Device(TypedDict):
    name: str
    compute_capability: tuple[int, int]

class _DeviceInfo(TypedDict):
    emulated: bool
    runtime_version: str
    architectures: str
    error: Optional[str]
    devices: list[_Device]

BLOCK_THREADS: int
CHUNK: int
ILP: int
#: operand count -> (tensors, blocks) one launch holds
CAPACITY: dict[int, tuple[int, int]]

def run(works: list[Work], stream: int = 0) -> None:
    """Check every work completely, then enqueue all of them on ``stream``."""

def validate(works: list[Work]) -> None:
    """Run every check of run() and change nothing."""

def check_params(arrays: Sequence[Any], names: Optional[Sequence[str]] = None) -> None:
    """Check device arrays an optimizer will update in place."""

def apply_sums(works: list[Work], make_out: Callable[[int], Any], stream: int = 0) -> np.ndarray:
    """Check every work, enqueue them and return each tensor's sums of squares (float64,
    (tensors, 2), work order) for families whose update also sums; waits for ``stream``."""

def reduce(kind: int, arrays: list[Any], scalar: float, names: Optional[Sequence[str]],
           others: Optional[list[Any]], make_out: Callable[[int], Any],
           stream: int = 0) -> float:
    """A reduction (enum fusedoptim._core.Reduction, as an int) as a float."""

def pack_layout(numels: Sequence[int], elem_size: int,
                n_operands: int) -> list[list[tuple[int, int]]]:
    """Per launch, the (tensor index, chunk index) of each block."""

#: tensors one launch of blockwise8_step holds; values each grid block updates
BLOCKWISE8_TENSORS: int
BLOCKWISE8_UNIT: int

def blockwise8_check(kind: str, params: Sequence[Any], grads: Sequence[Any],
                     state1s: Sequence[Any], state2s: Optional[Sequence[Any]],
                     absmax1s: Sequence[Any], absmax2s: Optional[Sequence[Any]],
                     qmap1: Any, qmap2: Any, names: Optional[Sequence[str]] = None) -> None:
    """Run every check of blockwise8_step and change nothing."""

def blockwise8_step(kind: str, params: Sequence[Any], grads: Sequence[Any],
                    state1s: Sequence[Any], state2s: Optional[Sequence[Any]],
                    absmax1s: Sequence[Any], absmax2s: Optional[Sequence[Any]],
                    qmap1: Any, qmap2: Any, names: Optional[Sequence[str]] = None, *,
                    lr: float, beta1: float = 0.0, beta2: float = 0.0, eps: float = 0.0,
                    weight_decay: float = 0.0, momentum: float = 0.0, step: int = 1,
                    stream: int = 0) -> None:
    """As fusedoptim._core.blockwise8_step over device arrays (all on one device),
    enqueued on ``stream``; does not wait for the GPU."""

def device_info() -> _DeviceInfo:
    """The CUDA runtime, the architectures compiled for, and the devices found."""
