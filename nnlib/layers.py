"""Fully connected layer and element-wise activations, each backward below its forward.

Names, arguments, defaults and parameter shapes are those of ``torch.nn``, so
``nnlib.Linear(3, 2).load_state_dict(torch.nn.Linear(3, 2).state_dict())``
works. Everything is float64.

Lecture 01 (neural networks) motivates the activations; lecture 02
(backpropagation) derives every backward here.
"""
from __future__ import annotations

import numpy as np

from .module import Module, Parameter, shape_str


def _as_array(x, who: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError(f"{who} expected an array with at least one dimension, got a scalar")
    return x


def check_grad_shape(who: str, grad_out, expected_shape) -> np.ndarray:
    """Validate ``grad_out`` against the shape forward returned; raise ValueError naming both."""
    if expected_shape is None:
        raise RuntimeError(f"{who}.backward called before forward")
    grad_out = np.asarray(grad_out, dtype=np.float64)
    if grad_out.shape != expected_shape:
        raise ValueError(
            f"{who}.backward expected grad_out of shape {shape_str(expected_shape)} "
            f"(the shape forward returned), got {shape_str(grad_out.shape)}"
        )
    return grad_out


class Linear(Module):
    """y = x W^T + b.

    Args:
        in_features: size D_in of each input row.
        out_features: size D_out of each output row.
        bias: learn an additive bias.
        rng: a ``numpy.random.Generator`` (or seed) for the initial weights.

    Shape:
        input (*, D_in) -> output (*, D_out).
        weight (D_out, D_in), bias (D_out,).

    Initialisation as torch: U(-k, k) with k = 1/sqrt(D_in).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rng=None):
        super().__init__()
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features)))
        self.bias = Parameter(np.empty(self.out_features)) if bias else None
        self._x = None
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None) -> None:
        rng = np.random.default_rng(rng)
        k = 1.0 / np.sqrt(self.in_features) if self.in_features else 0.0
        self.weight.data[...] = rng.uniform(-k, k, self.weight.shape)
        if self.bias is not None:
            self.bias.data[...] = rng.uniform(-k, k, self.bias.shape)

    def forward(self, x):
        x = _as_array(x, f"Linear(in_features={self.in_features})")
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear(in_features={self.in_features}) got input of shape {shape_str(x.shape)}; "
                f"expected (*, {self.in_features})"
            )
        self._x = x
        out = x @ self.weight.data.T                                # (*, D_out)
        if self.bias is not None:
            out = out + self.bias.data
        return out

    def backward(self, grad_out):
        x = self._x
        grad_out = check_grad_shape(
            "Linear", grad_out, None if x is None else x.shape[:-1] + (self.out_features,))
        g2 = grad_out.reshape(-1, self.out_features)                # (N*, D_out)
        self.weight.grad += g2.T @ x.reshape(-1, self.in_features)  # (D_out, D_in)
        if self.bias is not None:
            self.bias.grad += g2.sum(axis=0)
        return grad_out @ self.weight.data                          # (*, D_in)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class _Elementwise(Module):
    """An activation y = f(x) applied to every entry; backward is grad_out * f'(x).

    Subclasses define ``_f(x)`` and ``_df(x, y)`` (the derivative, given input
    and output, whichever is cheaper).

    Shape:
        input (*) -> output (*), the same shape.
    """

    def __init__(self):
        super().__init__()
        self._x = None
        self._y = None

    def forward(self, x):
        self._x = _as_array(x, type(self).__name__)
        self._y = self._f(self._x)
        return self._y

    def backward(self, grad_out):
        grad_out = check_grad_shape(type(self).__name__, grad_out,
                                    None if self._x is None else self._x.shape)
        return grad_out * self._df(self._x, self._y)


def sigmoid(x):
    """Numerically stable logistic function 1 / (1 + exp(-x)), element-wise."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))                      # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


class Sigmoid(_Elementwise):
    """σ(x) = 1 / (1 + e^{-x}); σ'(x) = σ(x)(1 - σ(x)), at most 1/4."""

    def _f(self, x):
        return sigmoid(x)

    def _df(self, x, y):
        return y * (1.0 - y)


class Tanh(_Elementwise):
    """tanh(x); tanh'(x) = 1 - tanh(x)^2."""

    def _f(self, x):
        return np.tanh(x)

    def _df(self, x, y):
        return 1.0 - y * y


class ReLU(_Elementwise):
    """max(0, x); the derivative is 1 for x > 0 and 0 otherwise (0 at x = 0, as torch)."""

    def _f(self, x):
        return np.maximum(x, 0.0)

    def _df(self, x, y):
        return (x > 0).astype(np.float64)


class LeakyReLU(_Elementwise):
    """x for x > 0, ``negative_slope``·x otherwise."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def _f(self, x):
        return np.where(x > 0, x, self.negative_slope * x)

    def _df(self, x, y):
        return np.where(x > 0, 1.0, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(_Elementwise):
    """x for x > 0, α(e^x - 1) otherwise; derivative 1 or y + α."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = float(alpha)

    def _f(self, x):
        return np.where(x > 0, x, self.alpha * np.expm1(np.minimum(x, 0.0)))

    def _df(self, x, y):
        return np.where(x > 0, 1.0, y + self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Softplus(_Elementwise):
    """(1/β) log(1 + e^{βx}), linear where βx > ``threshold`` (as torch); derivative σ(βx)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta = float(beta)
        self.threshold = float(threshold)

    def _f(self, x):
        bx = self.beta * x
        return np.where(bx > self.threshold, x, np.logaddexp(0.0, bx) / self.beta)

    def _df(self, x, y):
        bx = self.beta * x
        return np.where(bx > self.threshold, 1.0, sigmoid(bx))

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"
