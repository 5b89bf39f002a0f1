#include "engine/parallel.h"

#include <stdexcept>
#include <string>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusedoptim {
namespace {

int default_threads() {
#ifdef _OPENMP
  // OMP_NUM_THREADS if set, else the number of processors available to us.
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int g_threads = 0;  // 0: not chosen yet

}  // namespace

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int get_num_threads() {
  if (g_threads == 0) g_threads = default_threads();
  return g_threads;
}

void set_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("n: thread count must be >= 1, got " + std::to_string(n));
#ifndef _OPENMP
  n = 1;  // built without OpenMP: everything runs on the calling thread
#endif
  g_threads = n;
}

}  // namespace fusedoptim
