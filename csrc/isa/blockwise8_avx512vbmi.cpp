// The 8-bit blockwise optimizers' kernels for the avx512 path on CPUs with AVX-512 VBMI
// (and BW): byte permutes instead of table gathers. CMakeLists.txt gives this file its
// ISA flags and -ffp-contract=off; optimizers/blockwise8_run.cpp picks its table only
// after the CPU check (cpu_features().avx512vbmi).
#define FO_ISA avx512vbmi
#include "isa/blockwise8_table.inc"
