// Adafactor's kernels for the avx512 path; CMakeLists.txt gives this file its ISA flags.
#define FO_ISA avx512
#include "isa/adafactor_table.inc"
