// The 8-bit blockwise optimizers' kernels for the scalar path; CMakeLists.txt gives this file
// its ISA flags and -ffp-contract=off.
#define FO_ISA scalar
#include "isa/blockwise8_table.inc"
