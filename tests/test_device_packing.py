"""How the CUDA launcher cuts tensors into launches and blocks (csrc/cuda/launch_meta.h),
checked on sizes far beyond memory (fusedoptim._cuda_emulator.pack_layout touches
none), and the kernel body's chunk, vector and tail boundaries on the emulation."""
import numpy as np
import pytest

import fusedoptim

E = pytest.importorskip("fusedoptim._cuda_emulator")
CHUNK = E.CHUNK


def _check_layout(numels, n_operands, elem_size=4):
    launches = E.pack_layout(numels, elem_size, n_operands)
    max_tensors, max_blocks = E.CAPACITY[n_operands]
    seen = [b for launch in launches for b in launch]
    expect = [(t, c) for t, n in enumerate(numels) for c in range(-(-n // CHUNK))]
    assert seen == expect, "every chunk of every non-empty tensor once, in order"
    for launch in launches:
        assert 0 < len(launch) <= max_blocks
        assert len({t for t, _ in launch}) <= max_tensors
    return launches


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_many_small_tensors_fill_the_tensor_lists(k):
    max_tensors, _ = E.CAPACITY[k]
    launches = _check_layout([1 + i % 300 for i in range(2 * max_tensors + 7)], k)
    assert [len({t for t, _ in launch}) for launch in launches] == [max_tensors, max_tensors, 7]


@pytest.mark.parametrize("k", [1, 4, 5])
def test_huge_tensors_continue_across_launches(k):
    _, max_blocks = E.CAPACITY[k]
    numels = [CHUNK * max_blocks * 2 + 5, 3, 0, CHUNK * (max_blocks - 1)]  # 17e10 values: no memory
    launches = _check_layout(numels, k)
    assert len(launches[0]) == max_blocks and launches[0][-1] == (0, max_blocks - 1)
    assert launches[1][0] == (0, max_blocks)  # the same tensor, next chunk


def test_empty_and_mixed():
    assert E.pack_layout([0, 0], 8, 3) == []
    _check_layout([0, 1, CHUNK, CHUNK + 1, 0, 7, 3 * CHUNK - 1], 3, elem_size=8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_boundaries(column, dtype):
    """Sizes around the vector width and the chunk, at every offset into a buffer (the
    vector path only for aligned starts), against the CPU."""
    rng = np.random.default_rng(9)
    sizes = [1, 3, 4, 5, 8, CHUNK - 1, CHUNK, CHUNK + 3, 2 * CHUNK + 4]
    for offset in range(4):
        host = [rng.standard_normal(n).astype(dtype) for n in sizes]
        grads = [rng.standard_normal(n).astype(dtype) for n in sizes]
        dev = [column.device(p, offset=offset) for p in host]
        fusedoptim.SGD(dev, lr=0.25, momentum=0.5).step([column.device(g) for g in grads])
        fusedoptim.SGD(host, lr=0.25, momentum=0.5).step(grads)
        for i, (a, b) in enumerate(zip(dev, host)):
            np.testing.assert_allclose(column.host(a), b, rtol=4 * np.finfo(dtype).eps, atol=0,
                                       err_msg=f"size {sizes[i]}, offset {offset}")
