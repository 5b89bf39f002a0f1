// Softmax cross-entropy and its gradient in one pass over the logits: each row is
// read from memory once (max, then exponentials and their sum, then the gradient,
// all while the row sits in L1), rows spread over threads in fixed blocks.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fusedoptim {

// Returns the sum over rows of the loss; writes grad = (softmax * sum(y) - y) * grad_scale.
// Labels: y[i] in [0, C), checked by the caller (bindings/loss_binding.cpp) before the
// call. Probabilities: y is (N, C).
template <typename T>
double softmax_xent_labels(const T* logits, const std::int64_t* labels, T* grad, std::size_t rows,
                           std::size_t classes, double grad_scale, int threads);
template <typename T>
double softmax_xent_probs(const T* logits, const T* probs, T* grad, std::size_t rows,
                          std::size_t classes, double grad_scale, int threads);

}  // namespace fusedoptim
