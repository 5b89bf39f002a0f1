// Every elementwise family of the kernel list (optimizers/family_list.h) with its rule
// set, by enum id: the CPU kernel tables and the CUDA launcher are both made from it.
#pragma once
#include <utility>

#include "optimizers/kernel_common.h"
#include "optimizers/kernel_spec.h"

namespace fusedoptim {
namespace FO_ISA {

template <int I>
struct FamilyTypeAt;

// A row of the kernel list pairs a spec with a rule that names that spec and fits it
// (operand count, written operands); RuleFamily checks it again for every flag word.
#define FO_CHECK_ROW(ns, Rule)                                                          \
  static_assert(Rule<float, 0>::kSpec == &ns::kSpec,                                    \
                "kernel list row " #ns ": the rule " #Rule " is another family's");     \
  static_assert(rule_fits_spec<Rule<float, 0>, &ns::kSpec>(), "kernel list row " #ns);

// Each row: its id's family is RuleFamily<spec, rule>.
#define FO_FAMILY_AT(ns, Rule)                 \
  template <>                                  \
  struct FamilyTypeAt<kFamily_##ns> {          \
    using type = RuleFamily<&ns::kSpec, Rule>; \
    FO_CHECK_ROW(ns, Rule)                     \
  };
FO_FAMILIES(FO_FAMILY_AT)
#undef FO_FAMILY_AT

template <int I>
using FamilyAt = typename FamilyTypeAt<I>::type;

namespace detail {
template <typename F, std::size_t... I>
bool with_family(int family, F&& f, std::index_sequence<I...>) {
  return ((family == static_cast<int>(I) ? (f(FamilyAt<I>{}), true) : false) || ...);
}
}  // namespace detail

// Calls f(FamilyType{}) for the family with enum id `family`; false if there is none.
template <typename F>
bool with_family(int family, F&& f) {
  return detail::with_family(family, std::forward<F>(f),
                             std::make_index_sequence<kNumFamilies>{});
}

}  // namespace FO_ISA
}  // namespace fusedoptim
