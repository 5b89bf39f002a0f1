// device_apply.h on the host: runs the CUDA kernel body (mta_kernel.h) block by
// block and thread by thread over host memory, with the launcher's own packing.
// Built into fusedoptim._cuda_emulator so that tests on machines without a GPU
// check the device code path (packing, chunking, vector and tail accesses, the
// shared rules) against the CPU kernels. "Device" arrays here are host memory
// behind a __cuda_array_interface__.
#define FO_ISA emulated
#include <cstring>
#include <stdexcept>

#include "cuda/device_apply.h"
#include "cuda/mta_kernel.h"
#include "cuda/reduce_kernel.h"

namespace fusedoptim {
namespace {

struct Emulator {
  template <class Rule, typename T, int K>
  void run(const Rule& rule, const cuda_meta::TensorListMeta<K>& meta, int n_blocks) {
    for (int b = 0; b < n_blocks; ++b)
      for (int t = 0; t < cuda_meta::kBlockThreads; ++t)
        emulated::process_block<Rule, T, K>(rule, meta, b, t, cuda_meta::kBlockThreads);
  }
  // The kernel's two phases in its order: every thread's fold, then the tree.
  template <class Op, typename T, int K>
  void reduce(const Op& op, const cuda_meta::TensorListMeta<K>& meta, int n_blocks) {
    constexpr int kThreads = cuda_meta::kBlockThreads;
    for (int b = 0; b < n_blocks; ++b) {
      double s[kThreads];
      for (int t = 0; t < kThreads; ++t)
        s[t] = emulated::reduce_thread<Op, T, K>(op, meta, b, t, kThreads);
      for (int stride = kThreads / 2; stride > 0; stride >>= 1)
        for (int t = 0; t < kThreads; ++t) emulated::reduce_tree_step<Op>(s, t, stride);
      op.out[op.first_block + b] = s[0];
    }
  }
};

}  // namespace

void device_apply(const std::vector<Launch>& launches, int, std::uintptr_t) {
  Emulator emulator;
  emulated::run_launches(launches, emulator);
}

void device_reduce(const std::vector<Launch>& launches, int kind, double scalar, double* out,
                   int, std::uintptr_t) {
  Emulator emulator;
  emulated::run_reductions(launches, kind, scalar, out, emulator);
}

void device_read(const double* src, double* dst, std::size_t n, int, std::uintptr_t) {
  std::memcpy(dst, src, n * sizeof(double));
}

int pointer_device(const void*) { return 0; }

DeviceReport device_report() {
  DeviceReport r;
  r.emulated = true;
  r.architectures = "host emulation";
  r.devices.push_back({"host emulation of the CUDA kernels", 0, 0});
  return r;
}

}  // namespace fusedoptim
