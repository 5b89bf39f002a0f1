// The keys of stochastic rounding (declared in engine/multi_tensor.h): four rounds of
// splitmix64 over (seed, step, tensor, operand). Shared by the host module (the CPU's
// stores) and the device modules (the CUDA launcher packs each tensor's prekey;
// the kernels finish the key with engine/half_scalar.h's splitmix).
#include <cstdint>

#include "engine/multi_tensor.h"

namespace fusedoptim {

namespace {
std::uint64_t sm(std::uint64_t z) {  // splitmix64's output function of z + gamma
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

std::uint64_t rounding_prekey(std::uint64_t seed, std::uint64_t step, std::uint64_t tensor) {
  return sm(sm(sm(seed) ^ step) ^ tensor);
}

std::uint64_t rounding_key(std::uint64_t seed, std::uint64_t step, std::uint64_t tensor,
                           std::uint64_t operand) {
  return sm(rounding_prekey(seed, step, tensor) ^ operand);
}

}  // namespace fusedoptim
