// Kernels for the scalar path; CMakeLists.txt gives this file (and only this file) its ISA flags.
#define FO_ISA scalar
#include "isa/kernel_table.inc"
