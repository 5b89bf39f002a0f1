// Thread count of the kernels: OMP_NUM_THREADS or the core count unless set.
#pragma once

namespace fusedoptim {

bool openmp_enabled();
int get_num_threads();
void set_num_threads(int n);  // n >= 1; throws std::invalid_argument otherwise

}  // namespace fusedoptim
