"""Type stubs of fusedoptim._cuda, the CUDA kernels over device arrays: the same module
as fusedoptim._cuda_emulator (csrc/bindings/device_module.cpp), built for the GPU; the
stubs are in _cuda_emulator.pyi."""
from ._cuda_emulator import *
