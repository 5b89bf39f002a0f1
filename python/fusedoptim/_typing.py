"""Type aliases of the public API, defined once for the annotations of every module.

Only annotations use them; nothing here runs at step time. Written with ``typing``'s
Union/Optional/Tuple so that the module imports on every supported Python (3.9+).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, ValuesView
from typing import Any, Dict, Optional, Protocol, Tuple, Union

import numpy as np
from numpy.typing import DTypeLike


class CudaArray(Protocol):
    """A CUDA device array: CuPy's, PyTorch's on the GPU, or any array with
    ``__cuda_array_interface__``."""

    @property
    def __cuda_array_interface__(self) -> Dict[str, Any]: ...


#: an array an optimizer updates or reads: a NumPy array or a CUDA device array
Array = Union[np.ndarray, CudaArray]
#: a list (or tuple) of arrays, aligned with the params
ArrayList = Sequence[Array]
#: one array, or a list of arrays
Arrays = Union[Array, Sequence[Array]]
#: a param group: ``{"params": [...], "lr": ..., <hyperparameters>}``
ParamGroup = Mapping[str, Any]
#: what an optimizer takes: a list of arrays, a dict name -> array, or a list of groups.
#: Spelled as sequences, iterators and dict views rather than any Iterable (which a dict
#: is too): that way mypy infers list and dict literals of arrays of mixed dtypes from it.
Params = Union[Mapping[Any, Array], Sequence[Union[Array, ParamGroup]],
               Iterator[Union[Array, ParamGroup]], ValuesView[Array]]
#: what ``step`` takes: a list aligned with the params, or a dict with the params' keys;
#: a None entry skips that param
Grads = Union[Sequence[Optional[Array]], Mapping[Any, Optional[Array]]]
#: a schedule: ``lr(t) -> float`` of the number of updates a group has had
LRSchedule = Callable[[int], float]
#: a learning rate: a number, or a schedule
LR = Union[float, LRSchedule]
#: a step count as a schedule takes it: an int, a NumPy integer, a float or a 0-d array
Step = Union[float, np.integer, np.floating, np.ndarray]
#: (beta1, beta2)
Betas = Tuple[float, float]
#: how the tensors are called in error messages
Names = Optional[Sequence[str]]
#: a state_dict (optimizer or scheduler)
StateDict = Dict[str, Any]
#: what the native layer runs: ``(family, flags, scalars, operands, names)``
Work = Tuple[int, int, Sequence[float], Sequence[Optional[Sequence[Any]]], Names]
#: one update's call, as an optimizer class makes it: (functional name, args, kwargs)
Call = Tuple[str, Tuple[Any, ...], Dict[str, Any]]
#: state buffers made during a step, by (buffer name, index of the param in its group)
NewBuffers = Dict[Tuple[str, int], Any]
#: a group's checked hyperparameters, by the functional layer's keywords
Hyper = Dict[str, Any]
#: names a hyperparameter in error messages: label("lr") -> "param_groups[0]['lr']"
Label = Callable[[str], str]
#: (state buffer name, init): ``init(param)`` makes the buffer of a param that has none
BufferInits = Sequence[Tuple[str, Callable[[Any], Any]]]
#: a closure of the second-order optimizers: evaluated at the params, it returns the
#: loss and its derivatives (see each optimizer's ``step``)
Closure = Callable[[], Any]

__all__ = ["CudaArray", "Array", "ArrayList", "Arrays", "ParamGroup", "Params", "Grads",
           "LRSchedule", "LR", "Betas", "Step", "Names", "StateDict", "Work", "Call", "NewBuffers",
           "Hyper", "Label", "BufferInits", "Closure"]

#: the ``state_dtype`` keyword: None (the params' dtypes) or a dtype, type or name
StateDtype = Optional[DTypeLike]
