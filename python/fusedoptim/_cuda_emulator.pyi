"""Type stubs of fusedoptim._cuda_emulator: the device module of fusedoptim._cuda
(csrc/bindings/device_module.cpp) built to run its kernels on the host, for tests.
Same names and signatures as _cuda.pyi."""
from ._cuda import *
