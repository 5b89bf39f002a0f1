// Kernel tables per ISA and the run-time choice between them.
#pragma once
#include <string>
#include <vector>

#include "engine/multi_tensor.h"

namespace fusedoptim {

struct KernelTable {
  ChunkFn f32[kNumFamilies];
  ChunkFn f64[kNumFamilies];
  SumFn s32[kNumFamilies];  // null for families whose rules do not sum
  SumFn s64[kNumFamilies];
  ReduceFn r32[kNumReductions];
  ReduceFn r64[kNumReductions];
  // 16-bit storage to float32 and back (engine/half_convert.h), by ElemType; null for
  // float32 / float64.
  LoadFn load[4];
  StoreFn store[4];
  StoreSrFn store_sr[4];  // the same stores, rounding stochastically
};

// Each family's block kernel for 16-bit operands (engine/mixed_block.h); null for the
// families that keep the tiles.
struct MixedKernels {
  MixedFn fn[kNumFamilies];
};

enum class Isa { Scalar = 0, AVX2 = 1, AVX512 = 2 };

// Defined in csrc/isa/kernels_<isa>.cpp; only the ISAs the compiler could target exist.
extern const KernelTable kTable_scalar;
#ifdef FUSEDOPTIM_HAVE_AVX2
extern const KernelTable kTable_avx2;
extern const MixedKernels kTable_mixed_avx2;
#endif
#ifdef FUSEDOPTIM_HAVE_AVX512
extern const KernelTable kTable_avx512;
extern const MixedKernels kTable_mixed_avx512;
extern const MixedKernels kTable_mixed_avx512bf16;
#endif

// What CPUID and XCR0 report (engine/cpu_features.cpp); all false off x86.
struct CpuFeatures {
  bool sse42, avx, avx2, fma, f16c, avx512f;
  bool avx512bw, avx512vbmi;  // the 8-bit optimizers' byte-permute kernels
  bool avx512dq, avx512bf16;  // the 16-bit steps' bfloat16 stores
  bool os_avx;     // the OS saves YMM state (XCR0 bits 1-2)
  bool os_avx512;  // ... and opmask/ZMM state (XCR0 bits 5-7)
};
const CpuFeatures& cpu_features();

const char* isa_name(Isa isa);
std::vector<Isa> compiled_isas();
// The CPU has the instructions of the path and the OS enables their registers.
bool cpu_supports(Isa isa);

// The table in use: FUSEDOPTIM_ISA if set, else the widest ISA both compiled and
// supported by this CPU. init_isa_from_env() runs once when the module is imported.
void init_isa_from_env();
const KernelTable& active_table();
// Sets each elementwise launch's kernel from the active table.
void bind_cpu_kernels(std::vector<Launch>& launches);
// The block kernels of 16-bit steps for the active path: null (the tiles) on the scalar
// path or where FUSEDOPTIM_MIXED_TILES is set (not empty, not "0"); on the avx512 path
// the AVX-512 BF16 ones where the CPU has it (and BW) and FUSEDOPTIM_NO_AVX512BF16 is not
// set. Tests compare all of them bit for bit.
const MixedKernels* active_mixed();
// Which they are: "avx512bf16", "avx512", "avx2" or "tiles" (build_info()).
const char* mixed_path();
// Sets a mixed launch's (16-bit operands) conversions from the active table.
void bind_conversions(Launch& l);
Isa active_isa();
// Forces a path; throws std::invalid_argument naming the problem if it is unknown,
// not compiled in, or not supported by this CPU.
void set_isa(const std::string& name);

}  // namespace fusedoptim
