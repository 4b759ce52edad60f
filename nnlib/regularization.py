"""Layers that behave differently in training and in evaluation: Dropout and BatchNorm2d.

``module.train()`` and ``module.eval()`` switch them, as in torch: Dropout
drops units only in training; BatchNorm2d normalises with the batch's
statistics in training (and updates its running estimates) and with the
running estimates in evaluation.

Lecture 04 (convolutional networks) measures what each does.
"""
from __future__ import annotations

import numpy as np

from .layers import check_grad_shape
from .module import Module, Parameter, shape_str


class Dropout(Module):
    """Inverted dropout: in training, zero each entry with probability p and scale the rest by 1/(1-p).

    The scaling keeps every unit's expected value unchanged, so evaluation is
    the identity (no rescaling at test time). The backward pass lets the
    gradient through the same kept entries, scaled the same way.

    Args:
        p: probability of zeroing an entry, in [0, 1].
        rng: a ``numpy.random.Generator`` (or seed) that draws the masks;
            kept as ``self.rng``.

    Shape:
        input (*) -> output (*), the same shape.
    """

    def __init__(self, p: float = 0.5, rng=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout probability has to be between 0 and 1, but got {p}")
        self.p = float(p)
        self.rng = np.random.default_rng(rng)
        self._scale = None                            # mask / (1 - p) of the last training forward
        self._shape = None

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self._scale = None
            return x
        if self.p == 1.0:
            self._scale = np.zeros(x.shape)
        else:
            self._scale = (self.rng.random(x.shape) >= self.p) / (1.0 - self.p)
        return x * self._scale

    def backward(self, grad_out):
        grad_out = check_grad_shape("Dropout", grad_out, self._shape)
        return grad_out if self._scale is None else grad_out * self._scale

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm2d(Module):
    """Normalise each channel over the batch and the image, then scale and shift, as torch.nn.BatchNorm2d.

    Training:  x̂ = (x - μ_B) / sqrt(σ²_B + eps),  y = weight · x̂ + bias,
    with μ_B, σ²_B the mean and (biased) variance of the channel over (N, H, W);
    the running estimates move towards them:
    ``running = (1 - momentum) · running + momentum · batch``, using the
    unbiased batch variance for ``running_var`` (as torch). With
    ``momentum=None`` they are the cumulative average over all batches.
    Evaluation: the running estimates replace μ_B and σ²_B.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance before the square root.
        momentum: weight of each new batch in the running estimates, or None.
        affine: learn ``weight`` (γ, initially 1) and ``bias`` (β, initially 0).
        track_running_stats: keep running estimates; without them,
            evaluation also normalises with the batch's statistics.

    Shape:
        input (N, C, H, W) -> output (N, C, H, W).
        weight (C,), bias (C,); running_mean (C,), running_var (C,) are plain
        arrays (torch's buffers), not parameters: copy them by hand.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.weight = Parameter(np.ones(self.num_features)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features)) if affine else None
        if self.track_running_stats:
            self.running_mean = np.zeros(self.num_features)
            self.running_var = np.ones(self.num_features)
            self.num_batches_tracked = 0
        else:
            self.running_mean = self.running_var = None
        self._cache = None

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d(num_features={self.num_features}) got input of shape "
                             f"{shape_str(x.shape)}; expected (N, {self.num_features}, H, W)")
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            count = x.shape[0] * x.shape[2] * x.shape[3]
            if self.training and count < 2:
                raise ValueError(f"BatchNorm2d: expected more than 1 value per channel when training, "
                                 f"got input of shape {shape_str(x.shape)}")
            mean = x.mean(axis=(0, 2, 3))                                   # (C,)
            var = x.var(axis=(0, 2, 3))                                     # (C,) biased, for normalising
            if self.training and self.track_running_stats:
                self.num_batches_tracked += 1
                m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
                self.running_mean *= 1.0 - m
                self.running_mean += m * mean
                self.running_var *= 1.0 - m
                self.running_var += m * var * count / (count - 1)           # unbiased, as torch
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)                             # (C,)
        x_hat = (x - mean[:, None, None]) * inv_std[:, None, None]          # (N, C, H, W)
        self._cache = (x_hat, inv_std, use_batch)
        if not self.affine:
            return x_hat
        return x_hat * self.weight.data[:, None, None] + self.bias.data[:, None, None]

    def backward(self, grad_out):
        x_hat, inv_std, use_batch = self._cache if self._cache is not None else (None, None, None)
        grad_out = check_grad_shape("BatchNorm2d", grad_out, None if x_hat is None else x_hat.shape)
        if self.affine:
            self.weight.grad += (grad_out * x_hat).sum(axis=(0, 2, 3))
            self.bias.grad += grad_out.sum(axis=(0, 2, 3))
            g_hat = grad_out * self.weight.data[:, None, None]             # dL/dx̂
        else:
            g_hat = grad_out
        if not use_batch:                             # μ and σ² are constants: a per-channel scale
            return g_hat * inv_std[:, None, None]
        # μ_B and σ²_B depend on every x of the channel: remove the gradient's
        # mean and its component along x̂ (the two directions normalisation cancels).
        mean_g = g_hat.mean(axis=(0, 2, 3), keepdims=True)
        mean_gx = (g_hat * x_hat).mean(axis=(0, 2, 3), keepdims=True)
        return (g_hat - mean_g - x_hat * mean_gx) * inv_std[:, None, None]

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")
