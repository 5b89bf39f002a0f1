#include "optimizers/kernel_spec.h"

#include "optimizers/adafactor.h"

#include <stdexcept>

namespace fusedoptim {
namespace {

// Read-only; the scalar is the exponent p of kSumPow.
constexpr FamilySpec kReduceSpec = make_spec("reduce", {in("arrays")}, {"p"}, {});
constexpr FamilySpec kDotSpec = make_spec("dot", {in("xs"), in("ys")}, {}, {});

#define FO_FAMILY_SPEC(ns, Rule) ns::kSpec,
const FamilySpec kSpecs[kNumSpecs] = {FO_FAMILIES(FO_FAMILY_SPEC) kReduceSpec, kDotSpec,
                                       adafactor::kSpec};
#undef FO_FAMILY_SPEC

}  // namespace

const FamilySpec& family_spec(int family) {
  if (family < 0 || family >= kNumSpecs) throw std::out_of_range("unknown kernel family id");
  return kSpecs[family];
}

}  // namespace fusedoptim
