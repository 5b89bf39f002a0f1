// Block kernels for 16-bit operands (engine/mixed_block.h) for the avx512 path on CPUs
// with AVX-512 BF16 (and BW): bfloat16 stored by the CPU's conversion. CMakeLists.txt
// gives this file its ISA flags; engine/dispatch.cpp picks its table only after the CPU
// check (cpu_features().avx512bf16).
#define FO_ISA avx512bf16
#include "isa/mixed_table.inc"
