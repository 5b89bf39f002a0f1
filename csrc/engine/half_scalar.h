// One float16 / bfloat16 value to and from float32, in plain integer and float code
// that runs on the host and, under nvcc, on the device: the scalar path and the vector
// tails of engine/half_convert.h (one ISA each) and the CUDA kernels' 16-bit operands
// (cuda/mta_kernel.h) round with the same functions, so every path gives the same bits.
// The rules (round to nearest even; stochastic rounding from a counter-based generator)
// are described in half_convert.h.
#pragma once
#include <cstdint>
#include <cstring>

#include "optimizers/kernel_common.h"

namespace fusedoptim {
namespace FO_ISA {

FO_HD std::uint32_t bits_of(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}
FO_HD float float_of(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// binary16 -> binary32, exact (every half is a float).
FO_HD float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exp = h & 0x7c00u;
  const std::uint32_t mant = h & 0x03ffu;
  // Normal: rebias the exponent (15 -> 127) and widen the mantissa.
  const std::uint32_t normal = ((exp + ((127 - 15) << 10)) | mant) << 13;
  // inf / NaN: all-ones exponent, the mantissa kept (NaN quieted).
  const std::uint32_t special = 0x7f800000u | (mant << 13) | (mant ? 0x00400000u : 0u);
  // Zero / subnormal: mant * 2^-24, exact in float.
  const std::uint32_t sub = bits_of(static_cast<float>(mant) * 5.9604644775390625e-8f);
  std::uint32_t out = exp == 0x7c00u ? special : normal;
  out = exp == 0 ? sub : out;
  return float_of(out | sign);
}

// binary32 -> binary16, round to nearest even.
FO_HD std::uint16_t float_to_half(float f) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t sign = (u >> 16) & 0x8000u;
  const std::uint32_t a = u & 0x7fffffffu;
  // Normal results: rebias, add the rounding bias (half an ulp minus one, plus the
  // lowest kept bit for ties to even), drop 13 bits. A carry into the exponent is the
  // right result, up to rounding to inf past 65504.
  const std::uint32_t odd = (a >> 13) & 1u;
  std::uint32_t normal = (a - ((127u - 15u) << 23) + 0x0fffu + odd) >> 13;
  normal = normal > 0x7c00u ? 0x7c00u : normal;
  // Subnormal and zero results (|f| < 2^-14): add 0.5 (2^-1), whose ulp is 2^-24, the
  // half subnormal step; the float addition rounds to nearest even for us.
  const std::uint32_t sub = bits_of(float_of(a) + 0.5f) - 0x3f000000u;
  std::uint32_t out = a < 0x38800000u ? sub : normal;
  out = a >= 0x47800000u ? 0x7c00u : out;            // >= 2^16: inf
  out = a > 0x7f800000u ? (0x7e00u | ((a >> 13) & 0x3ffu)) : out;  // NaN, quiet
  return static_cast<std::uint16_t>(out | sign);
}

// bfloat16 -> float32: the high half of the float's bits.
FO_HD float bf16_to_float(std::uint16_t h) { return float_of(static_cast<std::uint32_t>(h) << 16); }

// float32 -> bfloat16, round to nearest even; NaN stays NaN (quiet bit set).
FO_HD std::uint16_t float_to_bf16(float f) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const std::uint32_t nan = (u >> 16) | 0x0040u;
  return static_cast<std::uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}

// splitmix64's output function of z + gamma: the last round of a rounding key
// (engine/multi_tensor.h's rounding_key; the host's copy is in rounding_key.cpp).
FO_HD std::uint64_t splitmix(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

FO_HD std::uint32_t fmix32(std::uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
FO_HD std::uint32_t random_bits(std::uint64_t key, std::uint64_t i) {
  const std::uint32_t h = fmix32(static_cast<std::uint32_t>(i) ^ static_cast<std::uint32_t>(key));
  return fmix32(h ^ (static_cast<std::uint32_t>(key >> 32) + static_cast<std::uint32_t>(i >> 32)));
}

FO_HD std::uint16_t float_to_bf16_sr(float f, std::uint32_t r) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f7f0000u) return float_to_bf16(f);
  return static_cast<std::uint16_t>(((a + (r >> 16)) >> 16) | ((u >> 16) & 0x8000u));
}

FO_HD std::uint16_t float_to_half_sr(float f, std::uint32_t r) {
  const std::uint32_t u = bits_of(f);
  const std::uint32_t a = u & 0x7fffffffu;
  if (a > 0x477fe000u) return float_to_half(f);
  std::uint32_t h;
  if (a >= 0x38800000u) {
    h = (a - (112u << 23) + (r >> 19)) >> 13;
  } else {
    const std::uint32_t e = a >> 23;
    const std::uint32_t m = e ? (a & 0x7fffffu) | 0x800000u : a;
    const std::uint32_t s = 126u - (e ? e : 1u);
    const std::uint32_t s1 = s < 31u ? s : 31u;
    const std::uint32_t mm = s - s1 >= 32u ? 0u : m >> (s - s1);
    h = (mm + (r >> (32u - s1))) >> s1;
  }
  return static_cast<std::uint16_t>(h | ((u >> 16) & 0x8000u));
}

}  // namespace FO_ISA
}  // namespace fusedoptim
