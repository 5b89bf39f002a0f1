// Run-time CPU feature detection. A path is usable only when the CPU has the
// instructions (CPUID) and the OS saves the registers they use across context
// switches (XCR0, read with XGETBV once CPUID says the OS enabled it): a CPU with
// AVX-512 under an OS or hypervisor that leaves ZMM state off must not take the
// avx512 path. Compiled without ISA flags, like everything outside csrc/isa/.
#include "engine/dispatch.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define FO_X86_DETECT 1
#endif

namespace fusedoptim {
namespace {

#ifdef FO_X86_DETECT
// XGETBV by its encoding, so this file needs no -mxsave.
unsigned long long read_xcr0() {
  unsigned int lo = 0, hi = 0;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

CpuFeatures detect() {
  CpuFeatures f{};
  unsigned int a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.sse42 = (c >> 20) & 1;
  f.fma = (c >> 12) & 1;
  f.avx = (c >> 28) & 1;
  f.f16c = (c >> 29) & 1;
  const bool osxsave = (c >> 27) & 1;
  if (__get_cpuid_max(0, nullptr) >= 7 && __get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = (b >> 5) & 1;
    f.avx512f = (b >> 16) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512vbmi = (c >> 1) & 1;
    // Leaf 7, subleaf 1: EAX bit 5.
    unsigned int a1 = 0, b1 = 0, c1 = 0, d1 = 0;
    if (a >= 1 && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512bf16 = (a1 >> 5) & 1;
  }
  if (osxsave) {
    const unsigned long long xcr0 = read_xcr0();
    f.os_avx = (xcr0 & 0x6) == 0x6;       // SSE and AVX (YMM) state
    f.os_avx512 = f.os_avx && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
  }
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool cpu_supports(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::AVX2:
      // kernels_avx2.cpp is compiled with -mavx2 -mfma -mf16c (F16C: float16 conversions).
      return f.avx && f.avx2 && f.fma && f.f16c && f.os_avx;
    case Isa::AVX512:
      // kernels_avx512.cpp is compiled with -mavx512f -mfma (which implies AVX2).
      return cpu_supports(Isa::AVX2) && f.avx512f && f.os_avx512;
  }
  return false;
}

}  // namespace fusedoptim
