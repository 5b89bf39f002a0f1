// Adafactor's kernels for the avx2 path; CMakeLists.txt gives this file its ISA flags.
#define FO_ISA avx2
#include "isa/adafactor_table.inc"
