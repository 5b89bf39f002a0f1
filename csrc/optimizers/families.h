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

// Each row: its id's family is RuleFamily<spec, rule>, and the rule names that spec
// (checked for every flag word by RuleFamily, and here for the unflagged instance).
#define FO_FAMILY_AT(ns, Rule)                                                  \
  template <>                                                                   \
  struct FamilyTypeAt<kFamily_##ns> {                                           \
    using type = RuleFamily<&ns::kSpec, Rule>;                                  \
    static_assert(Rule<float, 0>::kSpec == &ns::kSpec,                          \
                  "kernel list row " #ns ": the rule " #Rule " is another family's"); \
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
