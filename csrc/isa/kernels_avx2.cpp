// Kernels for the avx2 path; CMakeLists.txt gives this file (and only this file) its ISA flags.
#define FO_ISA avx2
#include "isa/kernel_table.inc"
