// Every elementwise family (enum Family in kernel_spec.h) and its rule set, in one
// list: the CPU kernel tables and the CUDA launcher are both made from it.
#pragma once
#include <tuple>
#include <utility>

#include "optimizers/adagrad.h"
#include "optimizers/adam.h"
#include "optimizers/rmsprop.h"
#include "optimizers/rprop.h"
#include "optimizers/sgd.h"
#include "optimizers/traffic.h"
#include "optimizers/vector_rules.h"

namespace fusedoptim {
namespace FO_ISA {

// In the order of enum Family.
using Families = std::tuple<SgdFamily, AdagradFamily, RmspropFamily, AdamFamily, RpropFamily,
                            TrafficFamily, FixedFamily<TriadRule>, FixedFamily<ScaleRule>,
                            FixedFamily<ClampRule>, FixedFamily<AxpyRule>, FixedFamily<CopyRule>,
                            FixedFamily<DiagNewtonRule>>;
static_assert(std::tuple_size<Families>::value == kNumFamilies, "one family per enum Family entry");

template <int I>
using FamilyAt = std::tuple_element_t<I, Families>;

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
