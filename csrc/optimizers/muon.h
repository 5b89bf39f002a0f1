// Muon's elementwise passes (torch.optim.Muon); the Newton-Schulz iteration between
// them is matrix products, run by the array library (python/fusedoptim/functional/_muon.py).
//   muon:         b <- lerp(b, g, 1 - momentum)
//                 nesterov: u <- lerp(g, b, momentum)   (else the NS input is b itself)
//   muon_update:  p <- p (1 - lr wd) - adjusted_lr O      (O: the orthogonalised update)
// torch's two-sided lerp, so that float64 follows torch's rounding.
#pragma once
#include "optimizers/spec.h"

namespace fusedoptim {
namespace muon {
// `updates` (the NS input, a scratch array per param) is written only with Nesterov; the
// first pass's work without it names params, grads and buffers for the step's checks.
constexpr FamilySpec kSpec = make_spec(
    "muon",
    {inout("params"), in("grads"), inout("momentum_buffers"), inout("updates", "nesterov")},
    {"momentum"}, {"nesterov"});
constexpr int MOMENTUM = kSpec.scalar("momentum");
}  // namespace muon
namespace muon_update {
constexpr FamilySpec kSpec = make_spec("muon_update", {inout("params"), in("orthos")},
                                       {"lr", "weight_decay", "adjusted_lr"}, {"weight_decay"});
constexpr int LR = kSpec.scalar("lr"), WEIGHT_DECAY = kSpec.scalar("weight_decay"),
              ADJUSTED_LR = kSpec.scalar("adjusted_lr");
}  // namespace muon_update
}  // namespace fusedoptim

#ifdef FO_ISA
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

// Operands: p (checked, untouched), g, b, u.
template <typename T, std::uint32_t F>
struct MuonRule {
  static constexpr const FamilySpec* kSpec = &muon::kSpec;
  static constexpr bool NESTEROV = has(F, kSpec->flag("nesterov"));
  static constexpr int kOperands = 4;
  static constexpr unsigned kRead = 0x6u;
  static constexpr unsigned kWrite = NESTEROV ? 0xCu : 0x4u;
  // torch: buf.lerp_(g, 1 - momentum), then g.lerp(buf, momentum). Each lerp takes its
  // weight in T and computes 1 - weight in T (ATen's Lerp.h), and picks its side from
  // |weight| < 0.5.
  T w, omw, mom, omm;
  bool low_w, low_m;

  explicit MuonRule(const Hyper& h)
      : w(static_cast<T>(1.0 - h.s[muon::MOMENTUM])),
        omw(T(1) - w),
        mom(static_cast<T>(h.s[muon::MOMENTUM])),
        omm(T(1) - mom),
        low_w(std::fabs(1.0 - h.s[muon::MOMENTUM]) < 0.5),
        low_m(std::fabs(h.s[muon::MOMENTUM]) < 0.5) {}

  FO_HD void operator()(T* x) const {
    const T g = x[1];
    const T b = lerp(x[2], g, w, omw, low_w);
    x[2] = b;
    if (NESTEROV) x[3] = lerp(g, b, mom, omm, low_m);
  }
};

// Operands: p, O.
template <typename T, std::uint32_t F>
struct MuonUpdateRule {
  static constexpr const FamilySpec* kSpec = &muon_update::kSpec;
  static constexpr bool WD = has(F, kSpec->flag("weight_decay"));
  static constexpr int kOperands = 2;
  static constexpr unsigned kRead = 0x3u;
  static constexpr unsigned kWrite = 0x1u;
  T decay, neg_alr;

  explicit MuonUpdateRule(const Hyper& h)
      : decay(static_cast<T>(1.0 - h.s[muon_update::LR] * h.s[muon_update::WEIGHT_DECAY])),
        neg_alr(static_cast<T>(-h.s[muon_update::ADJUSTED_LR])) {}

  FO_HD void operator()(T* x) const {
    const T p = WD ? x[0] * decay : x[0];
    x[0] = p + neg_alr * x[1];
  }
};

}  // namespace FO_ISA
}  // namespace fusedoptim
#endif  // FO_ISA
