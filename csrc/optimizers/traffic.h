// Not optimizers: the benchmark's roofline kernels, run by the same engine (same
// chunks, threads and ISA, or the same CUDA launcher) as the optimizers they are
// compared with.
//   traffic: reads p, g and up to three state buffers, writes p and the buffers,
//            with one multiply-add each: the memory traffic of an optimizer step
//            with nothing of its arithmetic.
//   triad:   a = b + s * c, the classic streaming bandwidth kernel.
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace traffic {
constexpr FamilySpec kSpec = make_spec(
    "traffic",
    {inout("params"), in("grads"), inout("state1", "state1"), inout("state2", "state2"),
     inout("state3", "state3")},
    {"scale"}, {"state1", "state2", "state3"});
constexpr int SCALE = kSpec.scalar("scale");
}  // namespace traffic
namespace triad {
constexpr FamilySpec kSpec = make_spec("triad", {inout("a"), in("b"), in("c")}, {"scale"}, {});
constexpr int SCALE = kSpec.scalar("scale");
}  // namespace triad
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p, g, state1..3.
template <typename T, std::uint32_t F>
struct TrafficRule {
  static constexpr const FamilySpec* kSpec = &traffic::kSpec;
  static constexpr bool S1 = has(F, kSpec->flag("state1"));
  static constexpr bool S2 = has(F, kSpec->flag("state2"));
  static constexpr bool S3 = has(F, kSpec->flag("state3"));
  static constexpr int kOperands = 5;
  static constexpr unsigned kRead = 0x3u | (S1 ? 0x4u : 0u) | (S2 ? 0x8u : 0u) | (S3 ? 0x10u : 0u);
  static constexpr unsigned kWrite = kRead & ~0x2u;
  T s;
  explicit TrafficRule(const Hyper& h) : s(static_cast<T>(h.s[traffic::SCALE])) {}
  FO_HD void operator()(T* x) const {
    const T d = s * x[1];
    x[0] = x[0] + d;
    if (S1) x[2] = x[2] + d;
    if (S2) x[3] = x[3] + d;
    if (S3) x[4] = x[4] + d;
  }
};

// Operands: a (written), b, c.
template <typename T, std::uint32_t>
struct TriadRule {
  static constexpr const FamilySpec* kSpec = &triad::kSpec;
  static constexpr int kOperands = 3;
  static constexpr unsigned kRead = 0x6u;
  static constexpr unsigned kWrite = 0x1u;
  T s;
  explicit TriadRule(const Hyper& h) : s(static_cast<T>(h.s[triad::SCALE])) {}
  FO_HD void operator()(T* x) const { x[0] = x[1] + s * x[2]; }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
