// Adafactor's kernels for the scalar path; CMakeLists.txt gives this file its ISA flags.
#define FO_ISA scalar
#include "isa/adafactor_table.inc"
