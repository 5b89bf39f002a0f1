#include "optimizers/adafactor_run.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/dispatch.h"
#include "engine/multi_tensor.h"
#include "optimizers/adafactor.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusedoptim {

// Defined in csrc/isa/adafactor_<isa>.cpp.
extern const AdafactorKernels kTable_adafactor_scalar;
#ifdef FUSEDOPTIM_HAVE_AVX2
extern const AdafactorKernels kTable_adafactor_avx2;
#endif
#ifdef FUSEDOPTIM_HAVE_AVX512
extern const AdafactorKernels kTable_adafactor_avx512;
#endif

namespace {

const AdafactorKernels& kernels_for(Isa isa) {
  switch (isa) {
#ifdef FUSEDOPTIM_HAVE_AVX2
    case Isa::AVX2:
      return kTable_adafactor_avx2;
#endif
#ifdef FUSEDOPTIM_HAVE_AVX512
    case Isa::AVX512:
      return kTable_adafactor_avx512;
#endif
    default:
      return kTable_adafactor_scalar;
  }
}

// A large matrix (more than kChunkElems values) is cut into blocks of at least this
// many rows: its column sums then need (rows / kMinBlockRows) partials of n doubles,
// at most half a byte per value of scratch.
constexpr std::size_t kMinBlockRows = 16;

enum Kind { kSmall, kRows, kFlat };

struct Unit {
  Kind kind;
  int t;               // tensor
  std::size_t lo, hi;  // kSmall: batches, kRows: rows of batch `b`, kFlat: elements
  std::size_t b;       // kRows: the batch
  std::size_t big;     // kRows: index of its batch in Plan::big
  std::size_t scratch; // kRows: offset of its n column partials
  std::size_t elems() const { return hi - lo; }
};

// One large matrix (a batch of a tensor) cut into row blocks.
struct BigBatch {
  int t;
  std::size_t b, first_unit, units;
};

struct Plan {
  std::vector<Unit> units;
  std::vector<BigBatch> big;
  std::vector<std::size_t> groups;       // units of thread work item g: [groups[g], groups[g+1])
  std::vector<std::size_t> rows_units;   // the kRows units, in order
  std::vector<std::size_t> rows_groups;  // as groups, over rows_units
  std::size_t scratch = 0, total = 0;
};

std::size_t unit_values(const Unit& u, const AfTensor& t) {
  if (u.kind == kSmall) return u.elems() * t.m * t.n;
  if (u.kind == kRows) return u.elems() * t.n;
  return u.elems();
}

// Consecutive units into thread work items of about kChunkElems values.
std::vector<std::size_t> group(const std::vector<std::size_t>& order, const Plan& plan,
                               const std::vector<AfTensor>& ts) {
  std::vector<std::size_t> begin{0};
  std::size_t fill = 0;
  for (std::size_t k = 0; k < order.size(); ++k) {
    const Unit& u = plan.units[order[k]];
    const std::size_t v = unit_values(u, ts[u.t]);
    if (fill > 0 && fill + v > kChunkElems) {
      begin.push_back(k);
      fill = 0;
    }
    fill += v;
  }
  begin.push_back(order.size());
  return begin;
}

Plan make_plan(const std::vector<AfTensor>& ts) {
  Plan plan;
  for (int t = 0; t < static_cast<int>(ts.size()); ++t) {
    const AfTensor& x = ts[t];
    if (x.numel == 0) continue;
    plan.total += x.numel;
    if (!x.matrix) {
      for (std::size_t lo = 0; lo < x.numel; lo += kChunkElems)
        plan.units.push_back({kFlat, t, lo, std::min(x.numel, lo + kChunkElems), 0, 0, 0});
      continue;
    }
    const std::size_t mn = x.m * x.n;
    std::size_t blocks = 1;
    if (mn > kChunkElems) blocks = std::min((mn + kChunkElems - 1) / kChunkElems, x.m / kMinBlockRows);
    if (blocks <= 1) {
      const std::size_t per = std::max<std::size_t>(1, kChunkElems / mn);
      for (std::size_t lo = 0; lo < x.batches; lo += per)
        plan.units.push_back({kSmall, t, lo, std::min(x.batches, lo + per), 0, 0, 0});
      continue;
    }
    const std::size_t rows = (x.m + blocks - 1) / blocks;
    for (std::size_t b = 0; b < x.batches; ++b) {
      BigBatch bb{t, b, plan.units.size(), 0};
      for (std::size_t lo = 0; lo < x.m; lo += rows, ++bb.units) {
        plan.units.push_back({kRows, t, lo, std::min(x.m, lo + rows), b, plan.big.size(), plan.scratch});
        plan.scratch += x.n;
      }
      plan.big.push_back(bb);
    }
  }
  std::vector<std::size_t> all(plan.units.size());
  for (std::size_t u = 0; u < all.size(); ++u) {
    all[u] = u;
    if (plan.units[u].kind == kRows) plan.rows_units.push_back(u);
  }
  plan.groups = group(all, plan, ts);
  plan.rows_groups = group(plan.rows_units, plan, ts);
  return plan;
}

// Runs f(unit index) for every unit of `order`, work item by work item over the threads.
template <typename F>
void for_units(const std::vector<std::size_t>& order, const std::vector<std::size_t>& groups,
               bool parallel, int threads, F f) {
  const long n = static_cast<long>(groups.size()) - 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
#endif
  for (long g = 0; g < n; ++g)
    for (std::size_t k = groups[g]; k < groups[g + 1]; ++k) f(order[k]);
  (void)parallel;
  (void)threads;
}

template <typename T>
AfConst<T> constants(const AfStep& s) {
  AfConst<T> k{};
  k.w = static_cast<T>(s.one_minus_beta2);
  k.one_minus_w = T(1) - k.w;
  k.low = std::fabs(s.one_minus_beta2) < 0.5;
  const double eps1 = s.eps1 < 0 ? std::numeric_limits<T>::epsilon() : s.eps1;
  k.eps1 = static_cast<T>(eps1);
  k.eps1_sq = static_cast<T>(eps1 * eps1);
  return k;
}

// Everything of one step that depends on T.
template <typename T>
struct Typed {
  const AfKernelsT<T>& k;
  AfConst<T> c;

  AfBatches<T> batches(const Unit& u, const AfTensor& x) const {
    const std::size_t mn = x.m * x.n;
    return {static_cast<T*>(x.p) + u.lo * mn, static_cast<const T*>(x.g) + u.lo * mn,
            static_cast<T*>(x.row) + u.lo * x.m, static_cast<T*>(x.col) + u.lo * x.n,
            u.elems(), x.m, x.n};
  }
  AfRows<T> rows(const Unit& u, const AfTensor& x, double* scratch, double row_mean) const {
    const std::size_t first = u.b * x.m + u.lo;
    return {static_cast<T*>(x.p) + first * x.n, static_cast<const T*>(x.g) + first * x.n,
            static_cast<T*>(x.row) + first, static_cast<const T*>(x.col) + u.b * x.n,
            scratch + u.scratch, u.elems(), x.n, static_cast<T>(row_mean)};
  }
  AfFlat<T> flat(const Unit& u, const AfTensor& x) const {
    return {static_cast<T*>(x.p) + u.lo, static_cast<const T*>(x.g) + u.lo,
            static_cast<T*>(x.var) + u.lo, u.elems()};
  }

  AfSums pass1(const Unit& u, const AfTensor& x, double* scratch) const {
    if (u.kind == kSmall) return k.batches_pass1(batches(u, x), c);
    if (u.kind == kFlat) return k.flat_pass1(flat(u, x), c);
    return {k.rows_pass1(rows(u, x, scratch, 0.0), c), 0.0};
  }
  double pass2(const Unit& u, const AfTensor& x, double row_mean) const {
    return k.rows_pass2(rows(u, x, nullptr, row_mean), c);
  }
  void pass3(const Unit& u, const AfTensor& x, double row_mean, double decay, double scale) const {
    const T d = static_cast<T>(decay), s = static_cast<T>(scale);
    if (u.kind == kSmall)
      k.batches_pass3(batches(u, x), c, d, s);
    else if (u.kind == kFlat)
      k.flat_pass3(flat(u, x), c, d, s);
    else
      k.rows_pass3(rows(u, x, nullptr, row_mean), c, d, s);
  }
};

// Python's max(a, b) and min(a, b) as torch's step evaluates them: the first argument
// unless the second compares greater (less), so a NaN second argument is ignored.
double py_max(double a, double b) { return b > a ? b : a; }

}  // namespace

void adafactor_run(const std::vector<AfTensor>& ts, const AfStep& s, int threads) {
  const Plan plan = make_plan(ts);
  if (plan.units.empty()) return;
  const AdafactorKernels& table = kernels_for(active_isa());
  const Typed<float> f32{table.f32, constants<float>(s)};
  const Typed<double> f64{table.f64, constants<double>(s)};
  const bool parallel = threads > 1 && plan.total >= kSerialThreshold;
  std::vector<double> scratch(plan.scratch);
  std::vector<AfSums> sums(plan.units.size());
  std::vector<std::size_t> all(plan.units.size());
  for (std::size_t u = 0; u < all.size(); ++u) all[u] = u;

  // Pass 1: R, C, V updated; ||p||^2 everywhere, ||u||^2 of small matrices and vectors.
  for_units(all, plan.groups, parallel, threads, [&](std::size_t ui) {
    const Unit& u = plan.units[ui];
    const AfTensor& x = ts[u.t];
    sums[ui] = x.elem_size == 4 ? f32.pass1(u, x, scratch.data()) : f64.pass1(u, x, scratch.data());
  });

  // Large matrices: column sums from their blocks' partials, in block order; the row mean.
  std::vector<double> row_mean(plan.big.size());
  for (std::size_t i = 0; i < plan.big.size(); ++i) {
    const BigBatch& bb = plan.big[i];
    const AfTensor& x = ts[bb.t];
    const double* partials = scratch.data() + plan.units[bb.first_unit].scratch;
    if (x.elem_size == 4) {
      float* col = static_cast<float*>(x.col) + bb.b * x.n;
      f32.k.col_finish(partials, bb.units, x.n, x.m, col, f32.c);
      row_mean[i] = f32.k.row_mean(static_cast<const float*>(x.row) + bb.b * x.m, x.m, f32.c.eps1);
    } else {
      double* col = static_cast<double*>(x.col) + bb.b * x.n;
      f64.k.col_finish(partials, bb.units, x.n, x.m, col, f64.c);
      row_mean[i] = f64.k.row_mean(static_cast<const double*>(x.row) + bb.b * x.m, x.m, f64.c.eps1);
    }
  }

  // Pass 2: ||u||^2 of the large matrices' blocks.
  if (!plan.rows_units.empty())
    for_units(plan.rows_units, plan.rows_groups, parallel, threads, [&](std::size_t ui) {
      const Unit& u = plan.units[ui];
      const AfTensor& x = ts[u.t];
      sums[ui].u_sq = x.elem_size == 4 ? f32.pass2(u, x, row_mean[u.big]) : f64.pass2(u, x, row_mean[u.big]);
    });

  // Per tensor, its units' sums in unit order: alpha and the clipping denominator.
  std::vector<double> p_sq(ts.size(), 0.0), u_sq(ts.size(), 0.0), scale(ts.size(), 0.0);
  for (std::size_t ui = 0; ui < plan.units.size(); ++ui) {
    p_sq[plan.units[ui].t] += sums[ui].p_sq;
    u_sq[plan.units[ui].t] += sums[ui].u_sq;
  }
  for (std::size_t t = 0; t < ts.size(); ++t) {
    if (ts[t].numel == 0) continue;
    const double root_n = std::sqrt(static_cast<double>(ts[t].numel));
    const double alpha = py_max(s.eps2, std::sqrt(p_sq[t]) / root_n) * s.rho;
    const double denom = py_max(1.0, std::sqrt(u_sq[t]) / (root_n * s.d));
    // maximize: torch negates g, so u; the kernels use g as given and the sign goes here.
    scale[t] = (s.maximize ? alpha : -alpha) / denom;
  }
  const double decay = 1.0 - s.lr * s.weight_decay;

  // Pass 3: p <- p (1 - lr wd) + scale u.
  for_units(all, plan.groups, parallel, threads, [&](std::size_t ui) {
    const Unit& u = plan.units[ui];
    const AfTensor& x = ts[u.t];
    const double rm = u.kind == kRows ? row_mean[u.big] : 0.0;
    if (x.elem_size == 4)
      f32.pass3(u, x, rm, decay, scale[u.t]);
    else
      f64.pass3(u, x, rm, decay, scale[u.t]);
  });
}

}  // namespace fusedoptim
