#include "engine/dispatch.h"

#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace fusedoptim {
namespace {

const KernelTable* table_of(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return &kTable_scalar;
#ifdef FUSEDOPTIM_HAVE_AVX2
    case Isa::AVX2:
      return &kTable_avx2;
#endif
#ifdef FUSEDOPTIM_HAVE_AVX512
    case Isa::AVX512:
      return &kTable_avx512;
#endif
    default:
      return nullptr;
  }
}

// The path in use. Written only by init_isa_from_env() (module import) and set_isa().
Isa g_isa = Isa::Scalar;
const KernelTable* g_table = &kTable_scalar;

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::AVX2:
      return "avx2";
    case Isa::AVX512:
      return "avx512";
  }
  return "unknown";
}

std::vector<Isa> compiled_isas() {
  std::vector<Isa> out{Isa::Scalar};
#ifdef FUSEDOPTIM_HAVE_AVX2
  out.push_back(Isa::AVX2);
#endif
#ifdef FUSEDOPTIM_HAVE_AVX512
  out.push_back(Isa::AVX512);
#endif
  return out;
}

const KernelTable& active_table() { return *g_table; }

Isa active_isa() { return g_isa; }

void set_isa(const std::string& name) {
  Isa isa;
  if (name == "scalar")
    isa = Isa::Scalar;
  else if (name == "avx2")
    isa = Isa::AVX2;
  else if (name == "avx512")
    isa = Isa::AVX512;
  else
    throw std::invalid_argument("FUSEDOPTIM_ISA: unknown ISA '" + name +
                                "'; expected one of scalar, avx2, avx512");
  if (!table_of(isa))
    throw std::invalid_argument(std::string("FUSEDOPTIM_ISA=") + isa_name(isa) +
                                ": that path was not compiled into this build");
  if (!cpu_supports(isa))
    throw std::invalid_argument(std::string("FUSEDOPTIM_ISA=") + isa_name(isa) +
                                ": this CPU does not support it");
  g_isa = isa;
  g_table = table_of(isa);
}

void init_isa_from_env() {
  const char* env = std::getenv("FUSEDOPTIM_ISA");
  if (env && *env) {
    set_isa(env);  // a forced path that cannot run is an error, never a silent fallback
    return;
  }
  Isa best = Isa::Scalar;
  for (Isa isa : compiled_isas())
    if (cpu_supports(isa)) best = isa;
  g_isa = best;
  g_table = table_of(best);
}

namespace {
bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}

bool use_avx512bf16() {
#ifdef FUSEDOPTIM_HAVE_AVX512
  static const bool use = [] {
    const CpuFeatures& f = cpu_features();
    return !env_set("FUSEDOPTIM_NO_AVX512BF16") && cpu_supports(Isa::AVX512) && f.avx512bw &&
           f.avx512dq && f.avx512bf16;
  }();
  return use;
#else
  return false;
#endif
}
}  // namespace

const MixedKernels* active_mixed() {
  static const bool tiles = env_set("FUSEDOPTIM_MIXED_TILES");
  if (tiles) return nullptr;
  switch (g_isa) {
#ifdef FUSEDOPTIM_HAVE_AVX2
    case Isa::AVX2:
      return &kTable_mixed_avx2;
#endif
#ifdef FUSEDOPTIM_HAVE_AVX512
    case Isa::AVX512:
      return use_avx512bf16() ? &kTable_mixed_avx512bf16 : &kTable_mixed_avx512;
#endif
    default:
      return nullptr;
  }
}

const char* mixed_path() {
  if (!active_mixed()) return "tiles";
  if (g_isa == Isa::AVX512 && use_avx512bf16()) return "avx512bf16";
  return isa_name(g_isa);
}

void bind_conversions(Launch& l) {
  const KernelTable& table = active_table();
  for (int k = 0; k < l.n_operands; ++k) {
    l.load[k] = table.load[l.elem[k]];
    l.store[k] = table.store[l.elem[k]];
    l.store_sr[k] = table.store_sr[l.elem[k]];
  }
}

void bind_cpu_kernels(std::vector<Launch>& launches) {
  const KernelTable& table = active_table();
  for (Launch& l : launches) {
    if (l.family < 0 || l.family >= kNumFamilies) continue;
    if (l.mixed) {  // 16-bit operands: blocks in registers where compiled, else tiles
      l.fn = table.f32[l.family];
      bind_conversions(l);
      const MixedKernels* mixed = active_mixed();
      l.mixed_fn = mixed ? mixed->fn[l.family] : nullptr;
    } else {
      l.fn = l.elem_size == 4 ? table.f32[l.family] : table.f64[l.family];
    }
  }
}

}  // namespace fusedoptim
