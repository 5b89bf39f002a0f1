"""Train a small MLP (64-128-10, ReLU) with fusedoptim, in NumPy: copy and adapt.

Data: scikit-learn's bundled digits (no download), or random blobs without it.
Run: python examples/train_mlp.py
"""
import numpy as np

import fusedoptim
from fusedoptim.data import minibatches
from fusedoptim.losses import softmax_cross_entropy

rng = np.random.default_rng(0)
try:
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
except ImportError:  # synthetic stand-in: 10 Gaussian blobs in 64 dimensions
    y = rng.integers(0, 10, 1800)
    X = rng.normal(0, 1, (10, 64))[y] * 3 + rng.normal(0, 1, (1800, 64))
order = rng.permutation(len(X))
train, test = order[:1350], order[1350:]
mean, std = X[train].mean(0), X[train].std(0) + 1e-8
X = ((X - mean) / std).astype(np.float32)  # standardise with the training set's statistics


def forward(params, x):
    W1, b1, W2, b2 = params
    h = np.maximum(x @ W1 + b1, 0)  # ReLU
    return h @ W2 + b2, h


def grads_of(params, x, dlogits, h):
    W1, b1, W2, b2 = params
    dh = (dlogits @ W2.T) * (h > 0)
    return [x.T @ dh, dh.sum(0), h.T @ dlogits, dlogits.sum(0)]


sizes = [(64, 128), (128, 10)]  # He initialisation for the weights, zero biases
params = []
for fan_in, fan_out in sizes:
    params += [(rng.normal(0, np.sqrt(2 / fan_in), (fan_in, fan_out))).astype(np.float32),
               np.zeros(fan_out, np.float32)]

opt = fusedoptim.Adam(params, lr=2e-3)  # updates the arrays in place
batches = minibatches(X[train], y[train], batch_size=32, seed=0)  # reshuffled every epoch
for epoch in range(15):
    for xb, yb in batches:
        logits, h = forward(params, xb)
        loss, dlogits = softmax_cross_entropy(logits, yb)
        grads = grads_of(params, xb, dlogits, h)
        fusedoptim.clip_grad_norm_(grads, max_norm=5.0)  # in place; returns the norm before
        opt.step(grads)
    acc = (forward(params, X[test])[0].argmax(1) == y[test]).mean()
    print(f"epoch {epoch + 1:2d}  last batch loss {loss:.4f}  test accuracy {acc:.4f}")
print(f"test accuracy: {acc:.4f}")
