// Run-time CPU feature detection (the OS's support for the wider registers included:
// GCC's and Clang's __builtin_cpu_supports check XCR0 as well as CPUID).
#include "engine/dispatch.h"

namespace fusedoptim {

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return true;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    case Isa::AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::AVX512:
      return __builtin_cpu_supports("avx512f");
#endif
    default:
      return false;
  }
}

}  // namespace fusedoptim
