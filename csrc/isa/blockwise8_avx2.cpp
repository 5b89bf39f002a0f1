// The 8-bit blockwise optimizers' kernels for the avx2 path; CMakeLists.txt gives this file
// its ISA flags and -ffp-contract=off.
#define FO_ISA avx2
#include "isa/blockwise8_table.inc"
