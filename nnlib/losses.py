"""Loss functions: ``forward(input, target)`` returns a float, ``backward()`` dL/d(input).

Each is the negative log-likelihood of a noise model (lecture 01):
Gaussian noise gives the squared error, a Bernoulli output the binary
cross-entropy, a categorical output the multi-class cross-entropy.
Arguments and defaults as in ``torch.nn``; ``reduction`` is ``'mean'`` or ``'sum'``.
"""
from __future__ import annotations

import numpy as np

from .layers import sigmoid
from .module import shape_str


class _Loss:
    def __init__(self, reduction: str = "mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def __call__(self, input, target) -> float:
        return self.forward(input, target)

    def _reduce(self, per_item: np.ndarray, count: int) -> float:
        total = float(per_item.sum())
        return total / count if self.reduction == "mean" else total

    def _scale(self, count: int) -> float:
        return 1.0 / count if self.reduction == "mean" else 1.0

    def _need_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def __repr__(self) -> str:
        return f"{type(self).__name__}(reduction={self.reduction!r})"


def _same_shape(who: str, input, target):
    input = np.asarray(input, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if input.shape != target.shape:
        raise ValueError(
            f"{who} expected target of the input's shape {shape_str(input.shape)}, "
            f"got {shape_str(target.shape)}"
        )
    return input, target


class MSELoss(_Loss):
    """L = mean((input - target)^2) over every entry.

    Shape:
        input (*), target (*) of the same shape -> scalar.
    """

    def forward(self, input, target) -> float:
        input, target = _same_shape("MSELoss", input, target)
        diff = input - target
        self._cache = diff
        return self._reduce(diff * diff, diff.size)

    def backward(self) -> np.ndarray:
        diff = self._need_cache()
        return 2.0 * diff * self._scale(diff.size)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits x with targets t in [0, 1]:

        L = -[t log σ(x) + (1 - t) log(1 - σ(x))] = max(x, 0) - x t + log(1 + e^{-|x|})

    computed in the second form, which never overflows. dL/dx = σ(x) - t.

    Shape:
        input (*) logits, target (*) of the same shape -> scalar.
    """

    def forward(self, input, target) -> float:
        x, t = _same_shape("BCEWithLogitsLoss", input, target)
        self._cache = (x, t)
        per_item = np.maximum(x, 0.0) - x * t + np.log1p(np.exp(-np.abs(x)))
        return self._reduce(per_item, x.size)

    def backward(self) -> np.ndarray:
        x, t = self._need_cache()
        return (sigmoid(x) - t) * self._scale(x.size)


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """log(softmax(z)) computed as z - max - log(sum(exp(z - max))): no overflow."""
    z = np.asarray(z, dtype=np.float64)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z, axis: int = -1) -> np.ndarray:
    """exp(z) / sum(exp(z)) along ``axis``, shifted by the maximum so it never overflows."""
    return np.exp(log_softmax(z, axis))


class CrossEntropyLoss(_Loss):
    """Multi-class cross-entropy on logits: L = -log softmax(z)[y], averaged over the batch.

    dL/dz = (softmax(z) - onehot(y)) / N.

    Shape:
        input (N, C) logits, target (N,) integer class indices in [0, C) -> scalar.
    """

    def forward(self, input, target) -> float:
        z = np.asarray(input, dtype=np.float64)
        y = np.asarray(target)
        if z.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expected input of shape (N, C), got {shape_str(z.shape)}")
        if y.shape != (z.shape[0],):
            raise ValueError(
                f"CrossEntropyLoss expected target of shape ({z.shape[0]},) (one class index per row), "
                f"got {shape_str(y.shape)}"
            )
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(y == np.round(y)):
                raise ValueError("CrossEntropyLoss expected integer class indices as target")
            y = y.astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= z.shape[1]):
            raise ValueError(
                f"CrossEntropyLoss target holds class {int(y.min()) if y.min() < 0 else int(y.max())}, "
                f"outside [0, {z.shape[1]})"
            )
        logp = log_softmax(z, axis=1)                                 # (N, C)
        self._cache = (logp, y)
        return self._reduce(-logp[np.arange(len(y)), y], len(y))

    def backward(self) -> np.ndarray:
        logp, y = self._need_cache()
        grad = np.exp(logp)                                           # (N, C) softmax
        grad[np.arange(len(y)), y] -= 1.0
        return grad * self._scale(len(y))
