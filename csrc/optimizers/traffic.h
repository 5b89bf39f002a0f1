// Not optimizers: the benchmark's roofline kernels, run by the same engine (same
// chunks, threads and ISA) as the optimizers they are compared with.
//   traffic: reads p, g and up to three state buffers, writes p and the buffers,
//            with one multiply-add each: the memory traffic of an optimizer step
//            with nothing of its arithmetic.
//   triad:   a = b + s * c, the classic streaming bandwidth kernel.
#pragma once
#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

template <typename T, bool S1, bool S2, bool S3>
void traffic_loop(const Hyper& h, void* const* ptrs, std::size_t n) {
  T* __restrict p = operand<T>(ptrs, 0);
  const T* __restrict g = operand<T>(ptrs, 1);
  T* __restrict a = operand<T>(ptrs, 2);
  T* __restrict b = operand<T>(ptrs, 3);
  T* __restrict c = operand<T>(ptrs, 4);
  const T s = static_cast<T>(h.s[traffic::SCALE]);
  for (std::size_t i = 0; i < n; ++i) {
    const T x = s * g[i];
    p[i] = p[i] + x;
    if (S1) a[i] = a[i] + x;
    if (S2) b[i] = b[i] + x;
    if (S3) c[i] = c[i] + x;
  }
}

template <typename T>
void traffic_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  const std::uint32_t f = h.flags;
  dispatch_bools(
      [&](auto s1, auto s2, auto s3) {
        traffic_loop<T, decltype(s1)::value, decltype(s2)::value, decltype(s3)::value>(h, ptrs, n);
      },
      bool(f & traffic::STATE1), bool(f & traffic::STATE2), bool(f & traffic::STATE3));
}

template <typename T>
void triad_chunk(const Hyper& h, void* const* ptrs, std::size_t n) {
  T* __restrict a = operand<T>(ptrs, 0);
  const T* __restrict b = operand<T>(ptrs, 1);
  const T* __restrict c = operand<T>(ptrs, 2);
  const T s = static_cast<T>(h.s[triad::SCALE]);
  for (std::size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

}  // namespace FO_ISA
}  // namespace fusedoptim
