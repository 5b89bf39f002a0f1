"""_core.pack and _core.unpack, the copies between a list of arrays and one flat buffer
(gradient buckets): bit for bit NumPy's concatenate and multiply, for any thread count;
every bad argument raises, naming it, before anything is written."""
import numpy as np
import pytest

import fusedoptim
from fusedoptim import _core

DTYPES = [np.float32, np.float64]
UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


def bits(a):
    """The bytes of a as unsigned integers: NaN payloads and signed zeros compare too."""
    return np.ascontiguousarray(a).view(UINT[a.dtype])


def assert_bits_equal(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(bits(a), bits(b))


def assert_unchanged(a, before):
    """Same bytes as the copy taken before the call (any dtype)."""
    assert a.dtype == before.dtype and a.tobytes() == before.tobytes()


def special(rng, n, dtype):
    """n values with the ones a copy could get wrong: NaNs with payloads, -0.0, infinities,
    subnormals, among normal random values."""
    x = rng.standard_normal(n).astype(dtype)
    if n:
        info = np.finfo(dtype)
        pick = [np.nan, -0.0, np.inf, -np.inf, info.smallest_subnormal, -info.tiny / 3]
        idx = rng.integers(0, n, size=min(n, 8))
        x[idx] = np.array(pick + pick, dtype)[: len(idx)]
        nan_with_payload = np.array([bits(np.array([np.nan], dtype))[0] | 0x5], UINT[np.dtype(dtype)])
        x[idx[0]] = nan_with_payload.view(dtype)[0]
    return x


def random_shapes(rng, n, big=0):
    """n shapes of random sizes: 0-d, empty, 1-3 dims; plus one of `big` elements."""
    shapes = []
    for _ in range(n):
        kind = rng.integers(0, 6)
        if kind == 0:
            shapes.append(())
        elif kind == 1:
            shapes.append((0,) if rng.integers(2) else (3, 0))
        else:
            ndim = int(rng.integers(1, 4))
            shapes.append(tuple(int(d) for d in rng.integers(1, 40, size=ndim)))
    if big:
        shapes.insert(int(rng.integers(0, n + 1)), (big,))
    return shapes


def random_arrays(rng, dtype, n=40, big=1 << 19):
    return [special(rng, int(np.prod(s)), dtype).reshape(s) for s in random_shapes(rng, n, big)]


@pytest.fixture
def threads(restore_runtime):
    return fusedoptim.set_num_threads


# ------------------------------------------------------------------ values
@pytest.mark.parametrize("dtype", DTYPES)
def test_pack_is_concatenate_for_any_thread_count(dtype, threads):
    rng = np.random.default_rng()
    arrays = random_arrays(rng, dtype)
    expected = np.concatenate([a.ravel() for a in arrays])
    offset = int(rng.integers(1, 100))
    sentinel = special(rng, offset + expected.size + 37, dtype)
    for n_threads in (1, 2, 3):
        threads(n_threads)
        out = sentinel.copy()
        end = _core.pack(arrays, out, offset)
        assert end == offset + expected.size
        assert_bits_equal(out[offset:end], expected)
        # Nothing outside the range changed.
        assert_bits_equal(out[:offset], sentinel[:offset])
        assert_bits_equal(out[end:], sentinel[end:])


SCALES = [1.0, 0.25, 1 / 3, -1.7, 3.0, 1e-40, 2.0**-130, 1e30]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", SCALES)
def test_unpack_is_numpy_multiply_in_the_dtype(dtype, scale, threads):
    rng = np.random.default_rng()
    arrays = random_arrays(rng, dtype, n=25, big=1 << 18)
    offset = int(rng.integers(1, 100))
    total = sum(a.size for a in arrays)
    flat = special(rng, offset + total + 11, dtype)
    with np.errstate(all="ignore"):  # the reference overflows and underflows like the kernel
        factor = np.asarray(scale, dtype)
        expected, at = [], offset
        for a in arrays:
            src = flat[at:at + a.size]
            # scale 1 is an exact copy of the bits, whatever a multiply would do to a NaN
            expected.append((src if scale == 1.0 else src * factor).reshape(a.shape))
            at += a.size
    results = []
    for n_threads in (1, 2, 3):
        threads(n_threads)
        targets = [special(rng, a.size, dtype).reshape(a.shape) for a in arrays]
        assert _core.unpack(flat, targets, offset, scale) == offset + total
        for t, e in zip(targets, expected):
            assert_bits_equal(t, e)
        results.append(targets)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert_bits_equal(a, b)


def test_unpack_of_float32_multiplies_by_the_rounded_scale():
    """The documented semantics: x * np.float32(scale), not a float64 product rounded."""
    x = np.array([3.0, 1.1, 7.3], np.float32)
    scale = 0.1  # not a float32: float32(0.1) != 0.1
    t = np.empty(3, np.float32)
    _core.unpack(x, [t], 0, scale)
    assert_bits_equal(t, x * np.float32(scale))
    assert not np.array_equal(bits(t), bits((x.astype(np.float64) * scale).astype(np.float32)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(dtype):
    rng = np.random.default_rng()
    arrays = random_arrays(rng, dtype, n=60, big=100_003)
    total = sum(a.size for a in arrays)
    out = np.empty(total + 5, dtype)
    assert _core.pack(arrays, out, 5) == total + 5
    back = [np.empty_like(a) for a in arrays]
    assert _core.unpack(out, back, 5) == total + 5
    for a, b in zip(arrays, back):
        assert_bits_equal(a, b)


def test_empty_list_and_empty_arrays_write_nothing():
    out = np.arange(6.0)
    assert _core.pack([], out, 6) == 6
    assert _core.pack([np.zeros(0), np.zeros((2, 0))], out, 3) == 3
    assert _core.unpack(out, [], 6, 2.0) == 6
    np.testing.assert_array_equal(out, np.arange(6.0))


def test_consecutive_calls_fill_one_bucket():
    """The returned offset is where the next pack starts."""
    a, b = np.arange(3.0), np.arange(4.0).reshape(2, 2) + 10
    out = np.zeros(7)
    _core.pack([b], out, _core.pack([a], out))
    np.testing.assert_array_equal(out, np.concatenate([a, b.ravel()]))


def test_arrays_may_share_memory_outside_the_range_copied():
    """Only the range written (pack) or read (unpack) must be separate."""
    buf = np.arange(10.0)
    assert _core.pack([buf[:3]], buf, 5) == 8
    np.testing.assert_array_equal(buf[5:8], [0.0, 1.0, 2.0])
    assert _core.unpack(buf, [buf[:2]], 6, 2.0) == 8
    np.testing.assert_array_equal(buf[:2], [2.0, 4.0])


def test_flat_may_be_read_only_and_pack_inputs_may_be_read_only():
    flat = np.arange(4.0)
    flat.flags.writeable = False
    t = np.zeros(4)
    _core.unpack(flat, [t])
    np.testing.assert_array_equal(t, flat)
    out = np.zeros(4)
    _core.pack([flat], out)
    np.testing.assert_array_equal(out, flat)


def test_names_label_the_array_in_messages():
    with pytest.raises(TypeError, match=r"arrays\[fc\.bias\]: dtype int64"):
        _core.pack([np.zeros(2), np.zeros(2, np.int64)], np.zeros(4), 0, ["fc.weight", "fc.bias"])


# ------------------------------------------------------------------ bad input
def _strided(n, dtype=np.float64):
    return np.zeros(2 * n, dtype)[::2]


def _readonly(a):
    a.flags.writeable = False
    return a


def _pack_case(arrays_fix=None, out=None, offset=2, names=None):
    """(arrays, out, offset, names): four good arrays (float64) into out[2:], one changed."""
    arrays = [np.full(3, 1.0), np.full((2, 2), 2.0), np.full((), 3.0), np.full(5, 4.0)]
    if arrays_fix:
        arrays = arrays_fix(arrays)
    if out is None:
        out = np.full(20, -1.0)
    return arrays, out, offset, names


def _set(i, value):
    def fix(arrays):
        arrays[i] = value(arrays) if callable(value) else value
        return arrays
    return fix


BUF = np.full(40, -1.0)  # out for the cases where an array is a view of it

PACK_BAD = [
    ("out 2-D", _pack_case(out=np.zeros((4, 5))), ValueError, r"^out: expected a 1-D array"),
    ("out strided", _pack_case(out=_strided(20)), ValueError, r"^out: array is not C-contiguous"),
    ("out read-only", _pack_case(out=_readonly(np.zeros(20))), ValueError,
     r"^out: array is read-only"),
    ("out int32", _pack_case(out=np.zeros(20, np.int32)), TypeError, r"^out: dtype int32"),
    ("out big-endian", _pack_case(out=np.zeros(20, ">f8")), TypeError, r"^out: dtype >f8"),
    ("out a list", _pack_case(out=[0.0] * 20), TypeError, r"^out: expected a numpy.ndarray"),
    ("arrays an ndarray", (np.zeros((2, 3)), np.zeros(20), 0, None), TypeError,
     r"^arrays: expected a list"),
    ("arrays[3] a list", _pack_case(_set(3, [1.0] * 5)), TypeError,
     r"^arrays\[3\]: expected a numpy"),
    ("arrays[3] float32", _pack_case(_set(3, np.ones(5, np.float32))), TypeError,
     r"^arrays\[3\]: dtype float32 does not match out's dtype float64"),
    ("arrays[3] float16", _pack_case(_set(3, np.ones(5, np.float16))), TypeError,
     r"^arrays\[3\]: dtype float16 is not supported"),
    ("arrays[3] int64", _pack_case(_set(3, np.ones(5, np.int64))), TypeError,
     r"^arrays\[3\]: dtype int64"),
    ("arrays[3] strided", _pack_case(_set(3, _strided(5))), ValueError,
     r"^arrays\[3\]: array is not C-contig"),
    ("arrays[3] in the range written", _pack_case(_set(3, BUF[8:13]), out=BUF), ValueError,
     r"^arrays\[3\] shares memory with out\[2:15\]"),
    ("arrays[3] straddling the range's end", _pack_case(_set(3, BUF[12:17]), out=BUF), ValueError,
     r"^arrays\[3\] shares memory with out\[2:15\]"),
    ("offset negative", _pack_case(offset=-1), ValueError, r"^offset: -1 is out of range"),
    ("offset a float", _pack_case(offset=1.0), TypeError, r"^offset: expected an int"),
    ("offset too large", _pack_case(offset=8), ValueError,
     r"^offset: 8 \+ 13 elements of arrays run past the 20 elements of out"),
    ("offset past out", _pack_case(offset=2**40), ValueError, r"^offset: "),
    ("names too short", _pack_case(names=["a"]), ValueError, r"^names: 1 names for 4 arrays"),
    ("names a str", _pack_case(names="abcd"), TypeError, r"^names: expected None or a list"),
]


@pytest.mark.parametrize("case", PACK_BAD, ids=[c[0] for c in PACK_BAD])
def test_bad_pack_raises_and_writes_nothing(case):
    _, (arrays, out, offset, names), exc, match = case
    before = out.copy() if isinstance(out, np.ndarray) else None
    with pytest.raises(exc, match=match):
        _core.pack(arrays, out, offset, names)
    if before is not None:
        assert_unchanged(out, before)


def _unpack_case(targets_fix=None, flat=None, offset=1, scale=0.5, names=None):
    """(flat, targets, offset, scale, names): four float64 targets from flat[1:], one changed."""
    targets = [np.full(3, -7.0), np.full((2, 2), -7.0), np.full((), -7.0), np.full(5, -7.0)]
    if targets_fix:
        targets = targets_fix(targets)
    if flat is None:
        flat = np.arange(20.0)
    return flat, targets, offset, scale, names


FLAT = np.arange(40.0)  # flat for the cases where a target is a view of it
SHARED = np.zeros(10)  # two targets over one buffer

UNPACK_BAD = [
    ("flat 2-D", _unpack_case(flat=np.zeros((4, 5))), ValueError, r"^flat: expected a 1-D array"),
    ("flat strided", _unpack_case(flat=_strided(20)), ValueError,
     r"^flat: array is not C-contiguous"),
    ("flat int64", _unpack_case(flat=np.zeros(20, np.int64)), TypeError, r"^flat: dtype int64"),
    ("flat None", (None,) + _unpack_case()[1:], TypeError, r"^flat: expected a numpy.ndarray"),
    ("arrays a dict", _unpack_case()[:1] + ({},) + _unpack_case()[2:], TypeError,
     r"^arrays: expected a list"),
    ("arrays[3] read-only", _unpack_case(_set(3, _readonly(np.zeros(5)))), ValueError,
     r"^arrays\[3\]: array is read-only"),
    ("arrays[3] float32", _unpack_case(_set(3, np.zeros(5, np.float32))), TypeError,
     r"^arrays\[3\]: dtype float32 does not match flat's dtype float64"),
    ("arrays[3] complex", _unpack_case(_set(3, np.zeros(5, complex))), TypeError,
     r"^arrays\[3\]: dtype complex128"),
    ("arrays[3] strided", _unpack_case(_set(3, _strided(5))), ValueError,
     r"^arrays\[3\]: array is not C-contig"),
    ("arrays[3] in the range read", _unpack_case(_set(3, FLAT[10:15]), flat=FLAT), ValueError,
     r"^arrays\[3\] shares memory with flat\[1:14\]"),
    ("arrays[3] over arrays[1]",
     _unpack_case(lambda t: [t[0], SHARED[:4].reshape(2, 2), t[2], SHARED[3:8]]), ValueError,
     r"^arrays\[3\] shares memory with arrays\[1\]"),
    ("arrays[3] is arrays[0]", _unpack_case(lambda t: t[:3] + [t[0]]), ValueError,
     r"^arrays\[[03]\] shares memory with arrays\[[03]\]"),
    ("scale nan", _unpack_case(scale=float("nan")), ValueError, r"^scale: must be finite"),
    ("scale -inf", _unpack_case(scale=-np.inf), ValueError, r"^scale: must be finite"),
    ("scale a str", _unpack_case(scale="2"), TypeError, r"^scale: expected a float"),
    ("scale None", _unpack_case(scale=None), TypeError, r"^scale: expected a float"),
    ("scale over float32's range", _unpack_case(lambda t: [a.astype(np.float32) for a in t],
                                                flat=np.arange(20, dtype=np.float32), scale=3.5e38),
     ValueError, r"^scale: 3.5e\+38 is not finite in float32"),
    ("offset negative", _unpack_case(offset=-3), ValueError, r"^offset: -3 is out of range"),
    ("offset too large", _unpack_case(offset=8), ValueError,
     r"^offset: 8 \+ 13 elements of arrays run past the 20 elements of flat"),
    ("offset None", _unpack_case(offset=None), TypeError, r"^offset: expected an int"),
    ("names too long", _unpack_case(names=list("abcde")), ValueError,
     r"^names: 5 names for 4 arrays"),
]


@pytest.mark.parametrize("case", UNPACK_BAD, ids=[c[0] for c in UNPACK_BAD])
def test_bad_unpack_raises_and_writes_nothing(case):
    _, (flat, targets, offset, scale, names), exc, match = case
    before = ([t.copy() for t in targets] if isinstance(targets, list) else None,
              flat.copy() if isinstance(flat, np.ndarray) else None)
    with pytest.raises(exc, match=match):
        _core.unpack(flat, targets, offset, scale, names)
    if before[0] is not None:
        for t, b in zip(targets, before[0]):
            assert_unchanged(t, b)
    if before[1] is not None:
        assert_unchanged(flat, before[1])


def test_float32_scale_at_the_edge_of_its_range():
    """The largest scale that rounds to a finite float32 is accepted; NumPy agrees."""
    edge = float(np.nextafter(float.fromhex("0x1.ffffffp+127"), 0.0))
    x = np.array([0.5, -0.25], np.float32)
    t = np.empty(2, np.float32)
    _core.unpack(x, [t], 0, edge)
    assert_bits_equal(t, x * np.float32(edge))
    with pytest.raises(ValueError, match="scale"):
        _core.unpack(x, [t], 0, float.fromhex("0x1.ffffffp+127"))
