// The 8-bit blockwise optimizers' kernels for the avx512 path; CMakeLists.txt gives this file
// its ISA flags and -ffp-contract=off.
#define FO_ISA avx512
#include "isa/blockwise8_table.inc"
