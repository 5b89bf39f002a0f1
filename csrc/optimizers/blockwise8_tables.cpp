#include "optimizers/blockwise8_tables.h"

#include <cstring>
#include <mutex>

namespace fusedoptim {
namespace {

// The map's float32 values as 4 planes of 256 bytes (little-endian byte b of q[i] at
// b * 256 + i).
void build_planes(const float* q, std::uint8_t* out) {
  for (int i = 0; i < 256; ++i) {
    std::uint32_t u;
    std::memcpy(&u, q + i, 4);
    for (int b = 0; b < 4; ++b) out[b * 256 + i] = static_cast<std::uint8_t>(u >> (8 * b));
  }
}

// The binary search of the table (blockwise8.h, kSearchWords): false when a bin's code
// is not the count of 255 thresholds in [0, 65535] (lut[65535] < 255).
bool build_search(const std::uint8_t* lut, std::uint16_t* out) {
  if (lut[blockwise8::kLutSize - 1] != 255) return false;
  std::uint16_t thr[255];  // thr[k] = the first bin j with lut[j] > k
  std::size_t j = 0;
  for (int k = 0; k < 255; ++k) {
    while (lut[j] <= k) ++j;  // ends: lut[65535] = 255 > k
    thr[k] = static_cast<std::uint16_t>(j);
  }
  std::memset(out, 0, blockwise8::kSearchWords * sizeof(std::uint16_t));
  for (int t = 0; t < 8; ++t)
    for (int r = 0; r < (1 << t); ++r) {
      int pos = 0;
      for (int u = 0; u < t; ++u)
        if ((r >> u) & 1) pos += 128 >> u;
      out[blockwise8::kSearchOffset[t] + r] = thr[pos + (128 >> t) - 1];
    }
  return true;
}

}  // namespace

std::vector<std::uint8_t> blockwise8_lut(const float* q) {
  using blockwise8::kLutSize;
  float mid[255];
  for (int k = 0; k < 255; ++k) mid[k] = 0.5f * (q[k] + q[k + 1]);
  std::vector<std::uint8_t> lut(kLutSize + blockwise8::kLutPad, 0);
  // v_j increases with j and the midpoints are sorted: the count only moves forward.
  int k = 0;
  for (std::size_t j = 0; j < kLutSize; ++j) {
    const float v = -1.0f + (2.0f * static_cast<float>(j)) / 65535.0f;
    while (k < 255 && mid[k] < v) ++k;
    lut[j] = static_cast<std::uint8_t>(k);
  }
  return lut;
}

std::shared_ptr<const Q8MapTables> blockwise8_tables(const float* qmap) {
  static std::mutex mu;
  static std::vector<std::shared_ptr<const Q8MapTables>> kept;  // most recently used first
  {
    std::lock_guard<std::mutex> lock(mu);
    for (std::size_t i = 0; i < kept.size(); ++i)
      if (std::memcmp(kept[i]->q, qmap, sizeof kept[i]->q) == 0) {
        std::shared_ptr<const Q8MapTables> hit = kept[i];
        kept.erase(kept.begin() + static_cast<std::ptrdiff_t>(i));
        kept.insert(kept.begin(), hit);
        return hit;
      }
  }
  auto t = std::make_shared<Q8MapTables>();  // built outside the lock
  std::memcpy(t->q, qmap, sizeof t->q);
  t->lut = blockwise8_lut(qmap);
  build_planes(qmap, t->planes);
  t->has_search = build_search(t->lut.data(), t->search);
  std::lock_guard<std::mutex> lock(mu);
  kept.insert(kept.begin(), t);
  if (kept.size() > static_cast<std::size_t>(kKeptMaps)) kept.pop_back();
  return t;
}

const std::uint8_t* blockwise8_bit_reversal() {
  alignas(64) static const struct Rev {
    std::uint8_t r[256];
    Rev() : r() {
      for (int i = 0; i < 256; ++i) {
        int v = 0;
        for (int b = 0; b < 8; ++b) v |= ((i >> b) & 1) << (7 - b);
        r[i] = static_cast<std::uint8_t>(v);
      }
    }
  } rev;
  return rev.r;
}

}  // namespace fusedoptim
