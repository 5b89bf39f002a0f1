"""Minibatches of NumPy arrays for training loops.

``minibatches(X, y, batch_size)`` is the lectures' recipe: every epoch visits
each row once, in a fresh random order, a batch at a time::

    batches = fusedoptim.data.minibatches(X, y, batch_size=64, seed=0)
    for epoch in range(10):
        for xb, yb in batches:          # each pass is one epoch, reshuffled
            loss, dlogits = ...
            opt.step(grads)

Nothing is copied beyond the batch itself: a shuffled batch is gathered with
fancy indexing of its rows only, and an unshuffled batch is a view (a slice) of
``X`` and ``y``.
"""
from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any, Tuple

import numpy as np
import numpy.typing as npt

__all__ = ["minibatches", "Minibatches"]

#: one minibatch: (rows of X, rows of y)
Batch = Tuple[np.ndarray, np.ndarray]


def _as_array(name: str, a: npt.ArrayLike) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    if a is None or isinstance(a, (str, bytes)) or not hasattr(a, "__len__"):
        raise TypeError(f"{name}: expected an array (or a sequence) of rows, "
                        f"got {type(a).__name__}")
    return np.asarray(a)


class Minibatches:
    """The epochs of minibatches of ``(X, y)``; see :func:`minibatches`.

    Iterating (``for xb, yb in batches``, ``iter(batches)``) runs one epoch;
    ``len(batches)`` is the number of batches per epoch. ``next(batches)``
    also works: it draws from an epoch that the object keeps itself, raises
    StopIteration at that epoch's end, and starts a new epoch on the next call.
    """

    def __init__(self, X: npt.ArrayLike, y: npt.ArrayLike, batch_size: int, shuffle: bool = True,
                 seed: int | np.random.Generator | None = None, drop_last: bool = False) -> None:
        X, y = _as_array("X", X), _as_array("y", y)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size: expected an int, got {type(batch_size).__name__} "
                            f"{batch_size!r}")
        batch_size = operator.index(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size: must be at least 1, got {batch_size}")
        if X.ndim == 0 or y.ndim == 0:
            raise ValueError("X and y: need at least one dimension (the rows), got "
                             f"shapes {X.shape} and {y.shape}")
        if len(X) != len(y):
            raise ValueError(f"X and y: different numbers of rows, {len(X)} and {len(y)} "
                             f"(shapes {X.shape} and {y.shape})")
        if len(X) == 0:
            raise ValueError("X: empty, no rows to make batches of")
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        # One generator for the object's life: epoch k gets the k-th permutation it
        # draws, so a seed fixes the whole sequence of epochs.
        self._rng: Any = np.random.default_rng(seed) if self.shuffle else None
        self._current: Iterator[Batch] | None = None  # the epoch that next() draws from

    @property
    def n(self) -> int:
        """The number of rows."""
        return len(self.X)

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[Batch]:
        return self._epoch()

    def __next__(self) -> Batch:
        if self._current is None:
            self._current = self._epoch()
        try:
            return next(self._current)
        except StopIteration:
            self._current = None
            raise

    def _epoch(self) -> Iterator[Batch]:
        # The permutation is drawn here, when the epoch starts, not lazily at its
        # first batch: epochs started in turn get permutations in turn.
        X, y, b = self.X, self.y, self.batch_size
        stop = len(self) * b
        if self.shuffle:
            order = self._rng.permutation(len(X))
            return ((X[order[i:i + b]], y[order[i:i + b]]) for i in range(0, stop, b))
        return ((X[i:i + b], y[i:i + b]) for i in range(0, stop, b))

    def __repr__(self) -> str:
        return (f"minibatches(X {self.X.shape}, y {self.y.shape}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}): {len(self)} batches "
                "per epoch")


def minibatches(X: npt.ArrayLike, y: npt.ArrayLike, batch_size: int, shuffle: bool = True,
                seed: int | np.random.Generator | None = None,
                drop_last: bool = False) -> Minibatches:
    """The minibatches of ``(X, y)``, one epoch per iteration, reshuffled every epoch.

    Parameters
    ----------
    X, y : arrays with the same number of rows (their first axis); ``y`` may be
        labels of shape (N,) or targets of shape (N, ...). Sequences are
        converted with ``np.asarray``; arrays are used as they are, never copied.
    batch_size : int >= 1
        Rows per batch. The last batch of an epoch is smaller when ``batch_size``
        does not divide N, unless ``drop_last``.
    shuffle : bool, default True
        Visit the rows in a new random order every epoch. Without it the batches
        are consecutive slices, i.e. views of ``X`` and ``y``.
    seed : None, int or numpy.random.Generator
        Seeds the one Generator the object keeps (``np.random.default_rng(seed)``);
        every epoch draws a fresh permutation from it, so the same seed gives the
        same sequence of epochs. None: fresh OS entropy.
    drop_last : bool, default False
        Leave out the last, smaller batch of each epoch (its rows then sit out that
        epoch; shuffling changes which rows they are).

    Returns
    -------
    Minibatches
        An iterable: every ``iter()`` (every ``for`` loop over it) is one epoch,
        yielding ``(X_batch, y_batch)``; ``len()`` is the number of batches per
        epoch.

    Raises
    ------
    TypeError
        ``batch_size`` is not an int, or ``X``/``y`` is not an array.
    ValueError
        ``batch_size < 1``, ``X`` and ``y`` have different numbers of rows, or ``X``
        has no rows.
    """
    return Minibatches(X, y, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
