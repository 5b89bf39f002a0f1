import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402

import fusedoptim  # noqa: E402
from fusedoptim import _native  # noqa: E402


@pytest.fixture(params=["emulated", "cuda"])
def column(request):
    """The device columns (tests/device_columns.py): the host emulation of the CUDA
    kernels, and a real GPU (skipped without one)."""
    from device_columns import Column
    from fusedoptim import _backends

    col = Column(request.param)
    col.setup()
    yield col
    _backends.set_device_module(None)


@pytest.fixture
def restore_runtime():
    """Put the thread count and ISA back as they were after a test changes them."""
    threads, isa = fusedoptim.get_num_threads(), _native.get_isa()
    yield
    fusedoptim.set_num_threads(threads)
    _native.set_isa(isa)


@pytest.fixture
def bnb():
    """bitsandbytes (an optional oracle of the 8-bit tests: skipped where it is not
    installed), with torch on one thread as the comparisons were measured."""
    bitsandbytes = pytest.importorskip("bitsandbytes")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield bitsandbytes
    torch.set_num_threads(threads)
