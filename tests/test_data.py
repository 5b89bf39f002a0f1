"""fusedoptim.data.minibatches: epochs that cover every row once, reshuffled,
reproducible, without copies beyond the batch, and clear errors."""
import numpy as np
import pytest

import fusedoptim
from fusedoptim.data import minibatches


def rows(n, d=3, dtype=np.float64):
    """X whose row i is all i, y = i: a batch tells which rows it holds."""
    X = np.repeat(np.arange(n, dtype=dtype)[:, None], d, axis=1)
    return X, np.arange(n)


def epoch_rows(batches):
    out = []
    for xb, yb in batches:
        assert len(xb) == len(yb)
        np.testing.assert_array_equal(xb[:, 0].astype(np.int64), yb)  # X and y rows stay paired
        out.append(yb.copy())
    return out


def test_exported():
    assert fusedoptim.data.minibatches is minibatches
    assert "data" in fusedoptim.__all__


@pytest.mark.parametrize("n,b", [(10, 3), (12, 4), (5, 5), (3, 10), (1, 1), (100, 7)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_every_row_exactly_once_per_epoch(n, b, shuffle):
    X, y = rows(n)
    batches = minibatches(X, y, b, shuffle=shuffle, seed=1)
    assert len(batches) == -(-n // b)
    for _ in range(3):
        got = epoch_rows(batches)
        assert len(got) == len(batches)
        assert [len(g) for g in got] == [b] * (n // b) + ([n % b] if n % b else [])
        np.testing.assert_array_equal(np.sort(np.concatenate(got)), np.arange(n))


def test_unshuffled_order_and_views():
    X, y = rows(10)
    batches = minibatches(X, y, 4, shuffle=False)
    got = list(batches)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), np.arange(10))
    for xb, yb in got:
        assert np.shares_memory(xb, X) and np.shares_memory(yb, y)  # slices, not copies
        assert xb.base is X and xb.flags.c_contiguous
    got[0][0][0, 0] = -1.0  # a view: writing through it reaches X
    assert X[0, 0] == -1.0


def test_shuffled_batches_are_batch_sized_copies():
    X, y = rows(50)
    for xb, yb in minibatches(X, y, 8, seed=0):
        assert not np.shares_memory(xb, X) and not np.shares_memory(yb, y)
        assert xb.shape == (len(yb), 3) and xb.flags.c_contiguous


def test_reshuffled_between_epochs():
    X, y = rows(200)
    batches = minibatches(X, y, 20, seed=3)
    orders = [np.concatenate(epoch_rows(batches)) for _ in range(4)]
    for a, b in zip(orders, orders[1:]):
        assert not np.array_equal(a, b)
    assert not np.array_equal(orders[0], np.arange(200))


def test_reproducible_with_seed():
    X, y = rows(100)
    a, b = minibatches(X, y, 16, seed=42), minibatches(X, y, 16, seed=42)
    for _ in range(3):
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(ya, yb)
            np.testing.assert_array_equal(xa, xb)
    c = minibatches(X, y, 16, seed=43)
    assert not np.array_equal(np.concatenate(epoch_rows(c)), np.concatenate(epoch_rows(
        minibatches(X, y, 16, seed=42))))


def test_seed_accepts_a_generator():
    X, y = rows(30)
    a = np.concatenate(epoch_rows(minibatches(X, y, 4, seed=np.random.default_rng(5))))
    b = np.concatenate(epoch_rows(minibatches(X, y, 4, seed=5)))
    np.testing.assert_array_equal(a, b)


def test_drop_last():
    X, y = rows(10)
    batches = minibatches(X, y, 3, drop_last=True, seed=0)
    assert len(batches) == 3
    seen = set()
    for _ in range(20):
        got = epoch_rows(batches)
        assert [len(g) for g in got] == [3, 3, 3]
        flat = np.concatenate(got)
        assert len(np.unique(flat)) == 9  # no row twice within an epoch
        seen.update(flat.tolist())
    assert seen == set(range(10))  # shuffling lets the dropped row change
    assert len(minibatches(X, y, 5, drop_last=True)) == 2
    assert len(minibatches(X, y, 11, drop_last=True)) == 0
    assert list(minibatches(X, y, 11, drop_last=True)) == []


def test_next_runs_epochs_in_turn():
    X, y = rows(5)
    batches = minibatches(X, y, 2, shuffle=False)
    assert [yb.tolist() for yb in (next(batches)[1], next(batches)[1], next(batches)[1])] == \
        [[0, 1], [2, 3], [4]]
    with pytest.raises(StopIteration):
        next(batches)
    assert next(batches)[1].tolist() == [0, 1]  # a new epoch


def test_labels_2d_targets_and_other_dtypes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(9, 2, 2)).astype(np.float32)
    Y = rng.random((9, 4))
    got = list(minibatches(X, Y, 4, seed=0))
    assert [xb.shape for xb, _ in got] == [(4, 2, 2), (4, 2, 2), (1, 2, 2)]
    assert all(xb.dtype == np.float32 and yb.shape[1:] == (4,) for xb, yb in got)
    # every row once, and each X row still paired with its Y row
    flat = X.reshape(9, -1)
    index = [int(np.flatnonzero((flat == x.reshape(-1)).all(axis=1))[0])
             for xb, _ in got for x in xb]
    assert sorted(index) == list(range(9))
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), Y[index])


def test_sequences_are_accepted():
    got = list(minibatches([[1.0], [2.0], [3.0]], [0, 1, 2], 2, shuffle=False))
    assert [yb.tolist() for _, yb in got] == [[0, 1], [2]]


@pytest.mark.parametrize("b", [0, -1])
def test_batch_size_below_one(b):
    X, y = rows(4)
    with pytest.raises(ValueError, match="batch_size"):
        minibatches(X, y, b)


@pytest.mark.parametrize("b", [2.0, "2", None, True, np.float64(2)])
def test_batch_size_not_an_int(b):
    X, y = rows(4)
    with pytest.raises(TypeError, match="batch_size"):
        minibatches(X, y, b)


def test_numpy_int_batch_size():
    X, y = rows(4)
    assert len(minibatches(X, y, np.int64(2))) == 2


def test_lengths_differ():
    X, y = rows(4)
    with pytest.raises(ValueError, match="rows"):
        minibatches(X, y[:3], 2)


def test_empty():
    with pytest.raises(ValueError, match="empty"):
        minibatches(np.zeros((0, 3)), np.zeros(0), 2)


@pytest.mark.parametrize("bad", [None, 3, 1.5, "abc"])
def test_not_arrays(bad):
    X, y = rows(4)
    with pytest.raises(TypeError):
        minibatches(bad, y, 2)
    with pytest.raises(TypeError):
        minibatches(X, bad, 2)


def test_scalar_arrays():
    with pytest.raises(ValueError):
        minibatches(np.ones(()), np.ones(()), 1)


def test_errors_are_raised_at_the_call_not_at_iteration():
    X, y = rows(4)
    with pytest.raises(ValueError):
        minibatches(X, y, 0)  # no iteration needed to see it
