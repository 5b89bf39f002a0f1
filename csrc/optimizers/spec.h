// How a kernel family describes itself: its operands (arrays), its per-step scalars
// and its flag bits, each by name. Every family writes its spec once, in its own
// header (csrc/optimizers/<family>.h), and takes the indices and bits its rule uses
// from that spec at compile time (scalar("lr"), flag("maximize")): a name that is not
// in the spec does not compile, and the order of the lists is the order everywhere.
// The Python layer reads the same specs through fusedoptim._native.SPECS.
#pragma once
#include <cstdint>
#include <initializer_list>

namespace fusedoptim {

constexpr int kMaxOperands = 6;
constexpr int kMaxScalars = 10;
constexpr int kMaxFlags = 8;

// Per-step scalars, computed once per step on the host in double precision.
struct Hyper {
  double s[kMaxScalars];
  std::uint32_t flags;
  // 1 / the factor the grads were multiplied by (loss scaling, fusedoptim.amp). When it
  // is not 1 the CPU engine hands the rule a tile of g * grad_unscale for operand 1
  // (engine/mixed_apply.cpp): always a power of two (bindings/plan_common.cpp), so the
  // product is exactly torch's g / grad_scale, and the rules themselves never see it
  // (a multiply inside a rule would change how the compiler contracts its FMAs).
  double grad_unscale = 1.0;
};

struct OperandSpec {
  const char* name;        // name of the list argument, e.g. "exp_avgs"
  bool written;            // updated in place by the kernel
  std::uint32_t needs;     // flag bits under which the operand is used (0: always)
};

constexpr bool str_eq(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

// Thrown only while a spec is evaluated at compile time: a misspelt name or a list
// longer than its array then stops the build ("not a constant expression").
struct SpecError {};

struct FamilySpec {
  const char* name;
  int n_operands;
  OperandSpec operands[kMaxOperands];
  int n_scalars;
  const char* scalars[kMaxScalars];
  int n_flags;
  const char* flags[kMaxFlags];  // flag i is bit (1 << i)
  // Sums of squares its update also returns (LAMB's and LARS's norms; 0: a plain update).
  // Such a family runs through apply_sums, which returns them per tensor.
  int n_sums;

  // Index of the per-step scalar `s` in Hyper::s.
  constexpr int scalar(const char* s) const {
    for (int i = 0; i < n_scalars; ++i)
      if (str_eq(scalars[i], s)) return i;
    throw SpecError{};
  }
  // Bit of the flag `f`.
  constexpr std::uint32_t flag(const char* f) const {
    for (int i = 0; i < n_flags; ++i)
      if (str_eq(flags[i], f)) return 1u << i;
    throw SpecError{};
  }
  // Operands the kernel may write (bit k: operand k).
  constexpr unsigned written_mask() const {
    unsigned m = 0;
    for (int k = 0; k < n_operands; ++k)
      if (operands[k].written) m |= 1u << k;
    return m;
  }
};

// An operand as a spec lists it: `needs` names the flag under which it is used.
struct OperandDecl {
  const char* name;
  bool written;
  const char* needs;
};
constexpr OperandDecl in(const char* name) { return {name, false, nullptr}; }
constexpr OperandDecl inout(const char* name, const char* needs = nullptr) {
  return {name, true, needs};
}

constexpr FamilySpec make_spec(const char* name, std::initializer_list<OperandDecl> operands,
                               std::initializer_list<const char*> scalars,
                               std::initializer_list<const char*> flags) {
  FamilySpec s{};
  s.name = name;
  if (operands.size() > kMaxOperands || scalars.size() > kMaxScalars ||
      flags.size() > kMaxFlags)
    throw SpecError{};
  for (const char* f : flags) s.flags[s.n_flags++] = f;
  for (const char* x : scalars) s.scalars[s.n_scalars++] = x;
  for (const OperandDecl& op : operands)
    s.operands[s.n_operands++] = {op.name, op.written, op.needs ? s.flag(op.needs) : 0u};
  return s;
}

// The spec of an update that also returns n sums of squares (see FamilySpec::n_sums).
constexpr FamilySpec with_sums(FamilySpec s, int n) {
  if (n < 1 || n > 2) throw SpecError{};  // kMaxSums in engine/multi_tensor.h
  s.n_sums = n;
  return s;
}

}  // namespace fusedoptim
