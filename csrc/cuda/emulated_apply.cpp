// device_apply.h on the host: runs the CUDA kernel body (mta_kernel.h) block by
// block and thread by thread over host memory, with the launcher's own packing.
// Built into fusedoptim._cuda_emulator so that tests on machines without a GPU
// check the device code path (packing, chunking, vector and tail accesses, the
// shared rules) against the CPU kernels. "Device" arrays here are host memory
// behind a __cuda_array_interface__.
#define FO_ISA emulated
#include <cstring>
#include <stdexcept>
#include <vector>

#include "cuda/device_apply.h"
#include "cuda/mta_kernel.h"
#include "cuda/reduce_kernel.h"

namespace fusedoptim {
namespace {

struct Emulator {
  template <class Rule, class Access, int KM>
  void run(const Rule& rule, const Access& access, const cuda_meta::TensorListMeta<KM>& meta,
           int n_blocks) {
    for (int b = 0; b < n_blocks; ++b)
      for (int t = 0; t < cuda_meta::kBlockThreads; ++t)
        emulated::process_block(rule, access, meta, b, t, cuda_meta::kBlockThreads);
  }
  // As sums_kernel: every thread's run, then the tree, for each block in turn.
  template <class Rule, class Access, int KM>
  void sums(const Rule& rule, const Access& access, const cuda_meta::TensorListMeta<KM>& meta,
            int n_blocks, double* out) {
    constexpr int kThreads = cuda_meta::kBlockThreads;
    constexpr int S = emulated::RuleSums<Rule>::value;
    std::vector<double> buf(S * kThreads);  // 4 KB a sum: off the stack
    auto* s = reinterpret_cast<double (*)[kThreads]>(buf.data());
    for (int b = 0; b < n_blocks; ++b) {
      for (int t = 0; t < kThreads; ++t) {
        double acc[S];
        emulated::sums_thread(rule, access, meta, b, t, kThreads, acc);
        for (int j = 0; j < S; ++j) s[j][t] = acc[j];
      }
      for (int stride = kThreads / 2; stride > 0; stride >>= 1)
        for (int t = 0; t < kThreads; ++t) emulated::sums_tree_step<S>(s, t, stride);
      for (int j = 0; j < kMaxSums; ++j) out[b * kMaxSums + j] = j < S ? s[j][0] : 0.0;
    }
  }
  // The kernel's two phases in its order: every thread's fold, then the tree.
  template <class Op, class Access, int K>
  void reduce(const Op& op, const Access& access, const cuda_meta::TensorListMeta<K>& meta,
              int n_blocks) {
    constexpr int kThreads = cuda_meta::kBlockThreads;
    for (int b = 0; b < n_blocks; ++b) {
      double s[kThreads];
      for (int t = 0; t < kThreads; ++t)
        s[t] = emulated::reduce_thread(op, access, meta, b, t, kThreads);
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

void device_apply_sums(const std::vector<Launch>& launches, double* out, int, std::uintptr_t) {
  Emulator emulator;
  emulated::run_sum_launches(launches, out, emulator);
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
