#include "engine/multi_tensor.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace fusedoptim {
namespace {

struct Segment {
  const Launch* launch;
  std::size_t tensor;
  std::size_t offset;
  std::size_t n;
};

void run_segment(const Segment& s) {
  const Launch& l = *s.launch;
  const TensorSlot& t = l.tensors[s.tensor];
  void* ptrs[kMaxOperands];
  const std::size_t byte_offset = s.offset * l.elem_size;
  for (int k = 0; k < l.n_operands; ++k)
    ptrs[k] = t.ptr[k] ? static_cast<char*>(t.ptr[k]) + byte_offset : nullptr;
  l.fn(l.hyper, ptrs, s.n);
}

}  // namespace

void multi_tensor_apply(const std::vector<Launch>& launches, int num_threads) {
  std::size_t total = 0;
  for (const Launch& l : launches)
    for (const TensorSlot& t : l.tensors) total += t.numel;
  if (total == 0) return;

  if (num_threads <= 1 || total < kSerialThreshold) {
    for (const Launch& l : launches)
      for (std::size_t i = 0; i < l.tensors.size(); ++i)
        if (l.tensors[i].numel) run_segment({&l, i, 0, l.tensors[i].numel});
    return;
  }

  // Cut every tensor into segments of at most kChunkElems, then group
  // consecutive segments into units of about kChunkElems elements.
  std::vector<Segment> segments;
  std::vector<std::size_t> unit_begin{0};
  segments.reserve(total / kChunkElems + 16);
  std::size_t unit_fill = 0;
  for (const Launch& l : launches) {
    for (std::size_t i = 0; i < l.tensors.size(); ++i) {
      const std::size_t numel = l.tensors[i].numel;
      for (std::size_t off = 0; off < numel; off += kChunkElems) {
        const std::size_t n = numel - off < kChunkElems ? numel - off : kChunkElems;
        if (unit_fill + n > kChunkElems && unit_fill > 0) {
          unit_begin.push_back(segments.size());
          unit_fill = 0;
        }
        segments.push_back({&l, i, off, n});
        unit_fill += n;
      }
    }
  }
  unit_begin.push_back(segments.size());
  const long n_units = static_cast<long>(unit_begin.size()) - 1;

#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(num_threads)
#endif
  for (long u = 0; u < n_units; ++u)
    for (std::size_t s = unit_begin[u]; s < unit_begin[u + 1]; ++s) run_segment(segments[s]);
}

}  // namespace fusedoptim
