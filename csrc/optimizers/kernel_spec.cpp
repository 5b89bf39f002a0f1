#include "optimizers/kernel_spec.h"

#include <stdexcept>

namespace fusedoptim {
namespace {

const FamilySpec kSpecs[kNumSpecs] = {
    {"sgd",
     3,
     {{"params", true, 0}, {"grads", false, 0}, {"momentum_buffers", true, sgd::USE_MOMENTUM}},
     4,
     {"lr", "momentum", "dampening", "weight_decay"},
     5,
     {"maximize", "weight_decay", "momentum", "first_step", "nesterov"}},
    {"adagrad",
     3,
     {{"params", true, 0}, {"grads", false, 0}, {"state_sums", true, 0}},
     3,
     {"clr", "weight_decay", "eps"},
     2,
     {"maximize", "weight_decay"}},
    {"rmsprop",
     5,
     {{"params", true, 0},
      {"grads", false, 0},
      {"square_avgs", true, 0},
      {"momentum_buffers", true, rmsprop::USE_MOMENTUM},
      {"grad_avgs", true, rmsprop::CENTERED}},
     5,
     {"lr", "alpha", "eps", "weight_decay", "momentum"},
     4,
     {"maximize", "weight_decay", "momentum", "centered"}},
    {"adam",
     5,
     {{"params", true, 0},
      {"grads", false, 0},
      {"exp_avgs", true, 0},
      {"exp_avg_sqs", true, 0},
      {"max_exp_avg_sqs", true, adam::AMSGRAD}},
     7,
     {"lr", "beta1", "beta2", "eps", "weight_decay", "step_size", "bias_correction2_sqrt"},
     4,
     {"maximize", "weight_decay", "decoupled", "amsgrad"}},
    {"rprop",
     4,
     {{"params", true, 0}, {"grads", false, 0}, {"prevs", true, 0}, {"step_sizes", true, 0}},
     4,
     {"etaminus", "etaplus", "step_size_min", "step_size_max"},
     1,
     {"maximize"}},
    // Same memory traffic as an optimizer with 0-3 state buffers, trivial arithmetic.
    {"traffic",
     5,
     {{"params", true, 0},
      {"grads", false, 0},
      {"state1", true, traffic::STATE1},
      {"state2", true, traffic::STATE2},
      {"state3", true, traffic::STATE3}},
     1,
     {"scale"},
     3,
     {"state1", "state2", "state3"}},
    // STREAM triad a = b + s * c.
    {"triad", 3, {{"a", true, 0}, {"b", false, 0}, {"c", false, 0}}, 1, {"scale"}, 0, {}},
    {"scale", 1, {{"grads", true, 0}}, 1, {"factor"}, 0, {}},
    {"clamp", 1, {{"grads", true, 0}}, 1, {"limit"}, 0, {}},
    // Vector kernels of the second-order methods (fusedoptim.vector).
    {"axpy", 2, {{"ys", true, 0}, {"xs", false, 0}}, 1, {"alpha"}, 0, {}},
    {"copy", 2, {{"dst", true, 0}, {"src", false, 0}}, 0, {}, 0, {}},
    {"diag_newton",
     3,
     {{"params", true, 0}, {"grads", false, 0}, {"hess_diags", false, 0}},
     2,
     {"lr", "min_curvature"},
     0,
     {}},
    // Read-only; the scalar is the exponent p of kSumPow.
    {"reduce", 1, {{"arrays", false, 0}}, 1, {"p"}, 0, {}},
    {"dot", 2, {{"xs", false, 0}, {"ys", false, 0}}, 0, {}, 0, {}},
};

}  // namespace

const FamilySpec& family_spec(int family) {
  if (family < 0 || family >= kNumSpecs) throw std::out_of_range("unknown kernel family id");
  return kSpecs[family];
}

}  // namespace fusedoptim
