// The kernel list: every elementwise family, once. The enum Family, the spec table
// the Python layer reads (kernel_spec.cpp), the CPU kernel tables (isa/kernel_table.inc)
// and the CUDA launcher (cuda/mta_kernel.h) are all made from FO_FAMILIES, so they
// cannot disagree on the order. A row is X(spec namespace, rule template); the rule
// names its spec, and families.h checks at compile time that the row pairs them right.
//
// Adding an elementwise optimizer: its header (spec + rule) included here, and one row.
#pragma once
#include "optimizers/adadelta.h"
#include "optimizers/adagrad.h"
#include "optimizers/adam.h"
#include "optimizers/adamax.h"
#include "optimizers/asgd.h"
#include "optimizers/lamb.h"
#include "optimizers/lars.h"
#include "optimizers/lion.h"
#include "optimizers/muon.h"
#include "optimizers/nadam.h"
#include "optimizers/radam.h"
#include "optimizers/rmsprop.h"
#include "optimizers/rprop.h"
#include "optimizers/sgd.h"
#include "optimizers/traffic.h"
#include "optimizers/vector_rules.h"

// The ids are the row numbers: existing rows keep their place (saved plans, tests).
#define FO_FAMILIES(X)                \
  X(sgd, SgdRule) \
  X(adagrad, AdagradRule) \
  X(rmsprop, RmspropRule) \
  X(adam, AdamRule) \
  X(rprop, RpropRule) \
  X(traffic, TrafficRule) \
  X(triad, TriadRule) \
  X(scale, ScaleRule) \
  X(clamp, ClampRule) \
  X(axpy, AxpyRule) \
  X(copy, CopyRule) \
  X(diag_newton, DiagNewtonRule) \
  X(adamax, AdamaxRule) \
  X(nadam, NadamRule) \
  X(radam, RadamRule) \
  X(adadelta, AdadeltaRule) \
  X(asgd, AsgdRule) \
  X(lion, LionRule) \
  X(lamb_moments, LambMomentsRule) \
  X(lamb_update, LambUpdateRule) \
  X(lars_norms, LarsNormsRule) \
  X(lars_update, LarsUpdateRule) \
  X(muon, MuonRule) \
  X(muon_update, MuonUpdateRule)
