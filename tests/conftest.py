import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402

import fusedoptim  # noqa: E402
from fusedoptim import _native  # noqa: E402


@pytest.fixture
def restore_runtime():
    """Put the thread count and ISA back as they were after a test changes them."""
    threads, isa = fusedoptim.get_num_threads(), _native.get_isa()
    yield
    fusedoptim.set_num_threads(threads)
    _native.set_isa(isa)
