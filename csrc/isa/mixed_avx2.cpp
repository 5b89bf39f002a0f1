// Block kernels for 16-bit operands (engine/mixed_block.h) for the avx2 path.
// CMakeLists.txt gives this file its ISA flags; engine/dispatch.cpp picks its table only
// after the CPU check.
#define FO_ISA avx2
#include "isa/mixed_table.inc"
