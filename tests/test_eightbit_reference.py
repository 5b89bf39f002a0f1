"""The NumPy twin of bitsandbytes' 8-bit blockwise optimizer state
(fusedoptim.reference._eightbit): properties that need nothing else, then agreement with
bitsandbytes' CPU path where bitsandbytes is installed (it is no dependency: those tests skip).
"""
from __future__ import annotations

import numpy as np
import pytest

from fusedoptim.reference import _eightbit as E

SIZES = (300, 4097, 10000)  # a partial block, one element past min_8bit_size, 39 blocks + 16
LUT_STEP = 2.0 / 65535  # the grid bitsandbytes' CPU quantizer puts over [-1, 1]


def _data(rng: np.random.Generator, n: int, signed: bool = True) -> np.ndarray:
    """Values over many decades, as optimizer moments are: normal times exp(U(-12, 0))."""
    x = rng.standard_normal(n) * np.exp(rng.uniform(-12.0, 0.0, n))
    return (x if signed else np.abs(x)).astype(np.float32)


# --------------------------------------------------------------------------- no bitsandbytes

@pytest.mark.parametrize("signed", [True, False])
def test_dynamic_map_shape(signed):
    q = E.dynamic_map(signed)
    assert q.dtype == np.float32 and q.shape == (256,)
    assert np.all(np.diff(q) > 0), "256 distinct sorted values"
    assert q[-1] == 1.0 and 0.0 in q
    if signed:
        assert -1.0 < q[0] < -0.99  # the signed map stops at -0.99297: no -1
    else:
        assert q[0] == 0.0


@pytest.mark.parametrize("rounding", ["bnb", "nearest"])
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("n", SIZES)
def test_round_trip_within_map_spacing(n, signed, rounding):
    """Tolerance, in units of the block's absmax: "nearest" picks the map entry nearest to
    s = x / absmax (its error is at most the distance to the nearest entry, half the local
    gap, plus 1e-6 for the float32 scaling); "bnb" first snaps s to a grid of step 2/65535,
    so its entry can be up to 2/65535 farther than the nearest."""
    rng = np.random.default_rng(100 + n + 2 * signed)
    q = E.dynamic_map(signed)
    x = _data(rng, n, signed)
    codes, absmax = E.quantize_blockwise(x, q, rounding=rounding)
    assert codes.dtype == np.uint8 and codes.shape == x.shape
    assert absmax.dtype == np.float32 and absmax.shape == (-(-n // 256),)
    y = E.dequantize_blockwise(codes, absmax, q)
    scale = np.repeat(absmax, 256)[:n].astype(np.float64)
    s = x / scale
    nearest = np.min(np.abs(s[:, None] - q[None, :].astype(np.float64)), axis=1)
    slack = 1e-6 + (LUT_STEP if rounding == "bnb" else 0.0)
    err = np.abs(y.astype(np.float64) - x) / scale
    assert np.all(err <= nearest + slack)
    gaps = np.diff(q.astype(np.float64))
    assert np.all(nearest <= gaps.max() / 2 + 1e-7)


@pytest.mark.parametrize("rounding", ["bnb", "nearest"])
def test_quantization_is_blockwise(rounding):
    rng = np.random.default_rng(7)
    q = E.dynamic_map(True)
    x = _data(rng, 4097)
    codes, absmax = E.quantize_blockwise(x, q, rounding=rounding)
    y = x.copy()
    y[512:768] = rng.standard_normal(256).astype(np.float32) * 50.0  # block 2 only
    codes2, absmax2 = E.quantize_blockwise(y, q, rounding=rounding)
    others = np.ones(4097, dtype=bool)
    others[512:768] = False
    assert np.array_equal(codes[others], codes2[others])
    assert np.array_equal(np.delete(absmax, 2), np.delete(absmax2, 2))
    assert absmax2[2] != absmax[2]


@pytest.mark.parametrize("n", SIZES)
def test_absmax_is_block_max(n):
    rng = np.random.default_rng(8 + n)
    x = _data(rng, n)
    x[-1] = -3.5  # the last partial block's max, and negative
    _, absmax = E.quantize_blockwise(x, E.dynamic_map(True))
    for b in range(absmax.size):
        assert absmax[b] == np.max(np.abs(x[b * 256:(b + 1) * 256]))
    assert absmax[-1] == np.float32(3.5)


def test_zero_block_and_zero_value():
    """An all-zero block: absmax 0, codes 0, dequantized 0. A single 0 inside a block: "nearest"
    codes it exactly; bitsandbytes' grid cannot (its bin at 0 stands for 2/65535 / 2)."""
    q = E.dynamic_map(True)
    x = np.zeros(600, dtype=np.float32)
    x[300] = 1.0  # block 1 is [1, 0, 0, ...], block 0 and 2 are all zeros
    for rounding in ("bnb", "nearest"):
        codes, absmax = E.quantize_blockwise(x, q, rounding=rounding)
        assert absmax.tolist() == [0.0, 1.0, 0.0]
        assert np.all(codes[:256] == 0) and np.all(codes[512:] == 0)
        assert np.array_equal(E.dequantize_blockwise(codes, absmax, q)[:256], x[:256])
    near, _ = E.quantize_blockwise(x, q, rounding="nearest")
    bnb, _ = E.quantize_blockwise(x, q, rounding="bnb")
    assert q[near[301]] == 0.0
    assert 1e-5 < q[bnb[301]] < 3e-5


def test_min_8bit_size_rule():
    assert not E.uses_8bit_state(4095)
    assert E.uses_8bit_state(4096)
    assert E.uses_8bit_state(10, min_8bit_size=10) and not E.uses_8bit_state(9, min_8bit_size=10)
    codes, absmax = E.init_8bit_state(4097)
    assert codes.dtype == np.uint8 and codes.shape == (4097,) and not codes.any()
    assert absmax.dtype == np.float32 and absmax.shape == (17,) and not absmax.any()


def test_sgd_without_momentum_refused():
    p = np.ones(4096, dtype=np.float32)
    s, a = E.init_8bit_state(4096)
    with pytest.raises(NotImplementedError):
        E.sgd8bit_step(p, p.copy(), s, a, E.dynamic_map(True), step=1, lr=0.1, momentum=0.0)


def test_bad_rounding_refused():
    with pytest.raises(ValueError, match="rounding"):
        E.quantize_blockwise(np.ones(3, np.float32), E.dynamic_map(True), rounding="stochastic")


# --------------------------------------------------------------------------- against bitsandbytes

@pytest.mark.parametrize("signed", [True, False])
def test_dynamic_map_equals_bnb_bitwise(bnb, signed):
    theirs = bnb.functional.create_dynamic_map(signed=signed).numpy()
    assert np.array_equal(E.dynamic_map(signed).view(np.uint32), theirs.view(np.uint32))


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("n", SIZES + (65536 + 77,))
def test_codes_equal_bnb_quantize_blockwise(bnb, n, signed):
    import torch

    rng = np.random.default_rng(200 + n + signed)
    q = E.dynamic_map(signed)
    x = _data(rng, n, signed)
    if n > 512:
        x[:256] = 0.0  # an all-zero block
    theirs, st = bnb.functional.quantize_blockwise(torch.from_numpy(x.copy()),
                                                   code=torch.from_numpy(q.copy()), blocksize=256)
    codes, absmax = E.quantize_blockwise(x, q)
    assert np.array_equal(absmax, st.absmax.numpy())
    assert int((codes != theirs.numpy()).sum()) == 0
    deq = bnb.functional.dequantize_blockwise(theirs, absmax=st.absmax, code=torch.from_numpy(q),
                                              blocksize=256).numpy()
    assert np.array_equal(E.dequantize_blockwise(codes, absmax, q), deq)
    # nearest rounding is another rule: it disagrees with bitsandbytes often, never by much
    near, _ = E.quantize_blockwise(x, q, rounding="nearest")
    assert (near != codes).any()


_OPTS = {
    "adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
    "adamw": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
    "sgd": dict(lr=1e-2, momentum=0.9, weight_decay=1e-2),
    "lion": dict(lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1),
}
ADAM_PARAM_ATOL = 1e-6
"""Adam's params may differ: torch.sqrt on CPU is off by one ulp for some inputs where
np.sqrt is correctly rounded, which moves an update of size ~lr by ~lr * 6e-8 and may flip the
last bit of a param ~N(0, 1) (1.2e-7); over 50 steps that stays far below 1e-6."""


def _bnb_optimizer(bnb, kind, tp, kw):
    cls = {"adam": bnb.optim.Adam8bit, "adamw": bnb.optim.AdamW8bit,
           "sgd": bnb.optim.SGD8bit, "lion": bnb.optim.Lion8bit}[kind]
    return cls([tp], **kw)


def _our_step(kind, p, g, st, t, kw, eight):
    if kind in ("adam", "adamw"):
        if eight:
            E.adam8bit_step(p, g, st["state1"], st["state2"], st["absmax1"], st["absmax2"],
                            st["qmap1"], st["qmap2"], step=t, **kw)
        else:
            E.adam32_step(p, g, st["state1"], st["state2"], step=t, **kw)
    elif kind == "sgd":
        if eight:
            E.sgd8bit_step(p, g, st["state1"], st["absmax1"], st["qmap1"], step=t, **kw)
        else:
            E.sgd32_step(p, g, st["state1"], step=t, **kw)
    elif eight:
        E.lion8bit_step(p, g, st["state1"], st["absmax1"], st["qmap1"], step=t, **kw)
    else:
        E.lion32_step(p, g, st["state1"], **kw)


def _run_against_bnb(bnb, kind, n, seed, steps=50, kw=None, bnb_kw=None):
    """Both run `steps` steps from the same float32 param on the same float32 grads; returns
    per-step counts of differing codes / absmax / 32-bit state, and the largest param gap."""
    import torch

    kw = dict(_OPTS[kind] if kw is None else kw)
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n).astype(np.float32)
    tp = torch.nn.Parameter(torch.from_numpy(p.copy()))
    opt = _bnb_optimizer(bnb, kind, tp, dict(kw, **(bnb_kw or {})))
    eight = E.uses_8bit_state(n)
    two = kind in ("adam", "adamw")
    ours: dict[str, np.ndarray] = {}
    if eight:
        ours["state1"], ours["absmax1"] = E.init_8bit_state(n)
        ours["qmap1"] = E.dynamic_map(True)
        if two:
            ours["state2"], ours["absmax2"] = E.init_8bit_state(n)
            ours["qmap2"] = E.dynamic_map(False)
    else:
        ours["state1"] = np.zeros(n, np.float32)
        if two:
            ours["state2"] = np.zeros(n, np.float32)
    diffs, worst = [], 0.0
    for t in range(1, steps + 1):
        g = (rng.standard_normal(n) * np.exp(rng.uniform(-3.0, 1.0, n))).astype(np.float32)
        tp.grad = torch.from_numpy(g.copy())
        opt.step()
        _our_step(kind, p, g, ours, t, kw, eight)
        theirs = opt.state[tp]
        assert theirs["step"] == t
        keys = [k for k in ("state1", "state2", "absmax1", "absmax2") if k in ours]
        diffs.append({k: int((theirs[k].numpy() != ours[k]).sum()) for k in keys})
        worst = max(worst, float(np.max(np.abs(tp.detach().numpy() - p))))
    return diffs, worst, opt.state[tp]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kind", sorted(_OPTS))
def test_fifty_steps_equal_bnb(bnb, kind, n):
    """Codes, absmax (8-bit) and float32 moments (n < 4096) equal bitsandbytes' after every one
    of 50 steps; params equal too, but for Adam's (ADAM_PARAM_ATOL; 1.2e-7 seen)."""
    import torch

    diffs, worst, theirs = _run_against_bnb(bnb, kind, n, seed=300 + n + len(kind))
    assert theirs["state1"].dtype == (torch.uint8 if n >= 4096 else torch.float32)
    assert all(sum(d.values()) == 0 for d in diffs), diffs
    if kind in ("adam", "adamw"):
        assert worst <= ADAM_PARAM_ATOL
    else:
        assert worst == 0.0  # no square root: bit for bit


def test_sgd_dampening_and_nesterov_ignored_like_bnb(bnb):
    """bitsandbytes' SGD8bit accepts dampening and nesterov and ignores them; the twin too."""
    kw = dict(lr=1e-2, momentum=0.9, weight_decay=0.0)
    diffs, worst, _ = _run_against_bnb(bnb, "sgd", 4097, seed=11, steps=10,
                                       kw=dict(kw, dampening=0.5, nesterov=True))
    assert all(sum(d.values()) == 0 for d in diffs) and worst == 0.0
    diffs, worst, _ = _run_against_bnb(bnb, "sgd", 4097, seed=11, steps=10, kw=kw,
                                       bnb_kw=dict(dampening=0.5, nesterov=True))
    assert all(sum(d.values()) == 0 for d in diffs) and worst == 0.0


def test_bnb_state_layout(bnb):
    import torch

    tp = torch.nn.Parameter(torch.ones(4097))
    opt = bnb.optim.Adam8bit([tp])
    tp.grad = torch.full((4097,), 0.5)
    opt.step()
    st = opt.state[tp]
    assert set(st) == {"step", "state1", "state2", "qmap1", "qmap2", "absmax1", "absmax2"}
    assert st["state1"].dtype == torch.uint8 and st["state1"].shape == (4097,)
    assert st["absmax1"].dtype == torch.float32 and st["absmax1"].shape == (17,)
    assert np.array_equal(st["qmap1"].numpy(), E.dynamic_map(True))
    assert np.array_equal(st["qmap2"].numpy(), E.dynamic_map(False))
    small = torch.nn.Parameter(torch.ones(4095))
    opt = bnb.optim.Adam8bit([small])
    small.grad = torch.ones(4095)
    opt.step()
    assert set(opt.state[small]) == {"step", "state1", "state2"}
    assert opt.state[small]["state1"].dtype == torch.float32
