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

// Every tensor cut into runs of at most kChunkElems elements, in launch and tensor order.
std::vector<Segment> cut(const std::vector<Launch>& launches, std::size_t total) {
  std::vector<Segment> segments;
  segments.reserve(total / kChunkElems + 16);
  for (const Launch& l : launches)
    for (std::size_t i = 0; i < l.tensors.size(); ++i)
      for (std::size_t off = 0, numel = l.tensors[i].numel; off < numel; off += kChunkElems)
        segments.push_back({&l, i, off, numel - off < kChunkElems ? numel - off : kChunkElems});
  return segments;
}

std::size_t total_elems(const std::vector<Launch>& launches) {
  std::size_t total = 0;
  for (const Launch& l : launches)
    for (const TensorSlot& t : l.tensors) total += t.numel;
  return total;
}

// The operand pointers of segment s, offset to its first element.
void segment_ptrs(const Segment& s, void** ptrs) {
  const Launch& l = *s.launch;
  const TensorSlot& t = l.tensors[s.tensor];
  for (int k = 0; k < l.n_operands; ++k) {
    const std::size_t size = l.mixed ? elem_bytes(l.elem[k]) : l.elem_size;
    ptrs[k] = t.ptr[k] ? static_cast<char*>(t.ptr[k]) + s.offset * size : nullptr;
  }
  if (l.master) ptrs[kMasterSlot] = static_cast<float*>(t.ptr[kMasterSlot]) + s.offset;
}

void run_segment(const Segment& s) {
  void* ptrs[kMaxOperands];
  segment_ptrs(s, ptrs);
  if (s.launch->mixed)
    mixed_chunk(*s.launch, ptrs, s.n, s.launch->tensors[s.tensor], s.offset);
  else if (s.launch->hyper.grad_unscale != 1.0)
    scaled_chunk(*s.launch, ptrs, s.n);
  else
    s.launch->fn(s.launch->hyper, ptrs, s.n);
}

}  // namespace

void multi_tensor_apply(const std::vector<Launch>& launches, int num_threads) {
  const std::size_t total = total_elems(launches);
  if (total == 0) return;

  if (num_threads <= 1 || total < kSerialThreshold) {
    for (const Launch& l : launches)
      for (std::size_t i = 0; i < l.tensors.size(); ++i)
        if (l.tensors[i].numel) run_segment({&l, i, 0, l.tensors[i].numel});
    return;
  }

  // Group consecutive segments into units of about kChunkElems elements, so that
  // many small tensors make one unit and threads get equal shares.
  const std::vector<Segment> segments = cut(launches, total);
  std::vector<std::size_t> unit_begin{0};
  std::size_t unit_fill = 0;
  for (std::size_t s = 0; s < segments.size(); ++s) {
    if (unit_fill + segments[s].n > kChunkElems && unit_fill > 0) {
      unit_begin.push_back(s);
      unit_fill = 0;
    }
    unit_fill += segments[s].n;
  }
  unit_begin.push_back(segments.size());
  const long n_units = static_cast<long>(unit_begin.size()) - 1;

#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(num_threads)
#endif
  for (long u = 0; u < n_units; ++u)
    for (std::size_t s = unit_begin[u]; s < unit_begin[u + 1]; ++s) run_segment(segments[s]);
}

namespace {

// fn(k, ptrs) for every segment k (its operand pointers in ptrs), spread over threads when
// the work is large enough; each k writes only its own results, so the order threads run
// them in never shows.
template <class Fn>
void each_segment(const std::vector<Segment>& segments, std::size_t total, int num_threads, Fn fn) {
  const long n = static_cast<long>(segments.size());
  const bool parallel = num_threads > 1 && total >= kSerialThreshold;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(num_threads) if (parallel)
#endif
  for (long k = 0; k < n; ++k) {
    void* ptrs[kMaxOperands];
    segment_ptrs(segments[k], ptrs);
    fn(static_cast<std::size_t>(k), ptrs);
  }
  (void)parallel;
}

}  // namespace

std::vector<double> multi_tensor_reduce(const std::vector<Launch>& launches, int num_threads) {
  const std::size_t total = total_elems(launches);
  const std::vector<Segment> segments = cut(launches, total);
  std::vector<double> partial(segments.size());
  each_segment(segments, total, num_threads, [&](std::size_t k, void* const* ptrs) {
    const Launch& l = *segments[k].launch;
    partial[k] = l.mixed ? mixed_reduce(l, ptrs, segments[k].n) : l.reduce(l.hyper, ptrs, segments[k].n);
  });
  return partial;
}

std::vector<double> multi_tensor_apply_sums(const std::vector<Launch>& launches, int num_threads) {
  const std::size_t total = total_elems(launches);
  const std::vector<Segment> segments = cut(launches, total);
  std::vector<double> partial(segments.size() * kMaxSums, 0.0);
  each_segment(segments, total, num_threads, [&](std::size_t k, void* const* ptrs) {
    const Launch& l = *segments[k].launch;
    if (l.mixed)
      mixed_sums(l, ptrs, segments[k].n, &partial[k * kMaxSums]);
    else
      l.sums(l.hyper, ptrs, segments[k].n, &partial[k * kMaxSums]);
  });
  // Segments come in launch and tensor order, a tensor's chunks in order.
  std::size_t n_tensors = 0;
  for (const Launch& l : launches) n_tensors += l.tensors.size();
  std::vector<double> sums(n_tensors * kMaxSums, 0.0);
  std::size_t t = 0, s = 0;
  for (const Launch& l : launches)
    for (std::size_t i = 0; i < l.tensors.size(); ++i, ++t)
      for (; s < segments.size() && segments[s].launch == &l && segments[s].tensor == i; ++s)
        for (int j = 0; j < kMaxSums; ++j) sums[t * kMaxSums + j] += partial[s * kMaxSums + j];
  return sums;
}

}  // namespace fusedoptim
