// Block kernels for 16-bit operands (engine/mixed_block.h) for the avx512 path on CPUs without AVX-512 BF16.
// CMakeLists.txt gives this file its ISA flags; engine/dispatch.cpp picks its table only
// after the CPU check.
#define FO_ISA avx512
#include "isa/mixed_table.inc"
