// Kernels for the avx512 path; CMakeLists.txt gives this file (and only this file) its ISA flags.
#define FO_ISA avx512
#include "isa/kernel_table.inc"
