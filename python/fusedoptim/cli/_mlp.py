"""A multilayer perceptron in NumPy, small enough to read: ReLU hidden layers,
a linear output layer, softmax cross-entropy, and backpropagation by hand.

The parameters are a flat list ``[W1, b1, W2, b2, ...]`` (``W`` of shape
(fan_in, fan_out), ``x @ W + b``), which is what an optimizer takes, and
:func:`loss_and_grads` returns the gradients in the same order, ready for
``opt.step(grads)``. examples/train_mlp.py is the same model in a few lines.
"""
from __future__ import annotations

import numpy as np

from ..losses import softmax_cross_entropy


def init_params(sizes, rng, dtype=np.float32):
    """He initialisation for ReLU layers: W ~ N(0, 2 / fan_in), b = 0."""
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in))
                      .astype(dtype))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def forward(params, x):
    """The logits, and the activations that backward needs: the input of each layer."""
    inputs = []
    for i in range(0, len(params), 2):
        if i:
            x = np.maximum(x, 0)   # ReLU between layers, none after the last
        inputs.append(x)
        x = x @ params[i] + params[i + 1]
    return x, inputs


def backward(params, inputs, dlogits):
    """Gradients of the loss for every param, given its gradient for the logits."""
    grads = [None] * len(params)
    d = dlogits
    for i in reversed(range(0, len(params), 2)):
        grads[i], grads[i + 1] = inputs[i // 2].T @ d, d.sum(axis=0)
        if i:
            d = (d @ params[i].T) * (inputs[i // 2] > 0)   # back through W, then the ReLU
    return grads


def loss_and_grads(params, x, y):
    """Mean cross-entropy of the batch ``(x, y)`` (integer labels) and its gradients."""
    logits, inputs = forward(params, x)
    loss, dlogits = softmax_cross_entropy(logits, y)
    return float(loss), backward(params, inputs, dlogits)


def accuracy(params, x, y) -> float:
    return float((forward(params, x)[0].argmax(axis=1) == y).mean())
