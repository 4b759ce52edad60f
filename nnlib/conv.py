"""Convolution and pooling on images: Conv2d, MaxPool2d, AvgPool2d, Flatten, and im2col/col2im.

Images are (N, C, H, W) float64 arrays, as in torch. Every layer here is a
loop over the kh×kw kernel offsets, never over pixels: for a fixed offset
(i, j), the input pixels that offset touches across all output positions form
one strided slice of the (padded) input, so each step is a single numpy
operation on a whole batch.

Conv2d is a matrix product on the *patch matrix* (im2col): one column per
output pixel of every image, one row per (c, i, j) kernel entry, so the
weight flattened to (C_out, C_in·kh·kw) multiplies it in one large matmul,
whose result is channel-major, (C_out, N, Ho, Wo). Conv2d returns it as an
(N, C_out, Ho, Wo) view rather than paying for a copy: element-wise layers
keep that memory order, and the next im2col reads it without a transpose.
(Measured against the channels-last (N·Ho·Wo, kh·kw·C) layout, this one was
1.3-1.6× faster here: benchmarks/RESULTS.md.)

Output size of every layer here (floor mode, as torch's default):

    Ho = (H + 2p - d(kh - 1) - 1) // s + 1,   Wo likewise.

Lecture 04 (convolutional networks) introduces each of these layers.
"""
from __future__ import annotations

import numpy as np

from .layers import check_grad_shape
from .module import Module, Parameter, shape_str


def _pair(v, name: str) -> tuple[int, int]:
    pair = (v, v) if np.isscalar(v) else tuple(v)
    if len(pair) != 2 or any(int(a) != a for a in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return int(pair[0]), int(pair[1])


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Output length along one axis: ``(size + 2p - d(k - 1) - 1) // s + 1``."""
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def _output_hw(who: str, x_shape, kernel, stride, padding, dilation) -> tuple[int, int]:
    h, w = x_shape[2], x_shape[3]
    ho = conv_output_size(h, kernel[0], stride[0], padding[0], dilation[0])
    wo = conv_output_size(w, kernel[1], stride[1], padding[1], dilation[1])
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{who} got input of shape {shape_str(x_shape)}: with padding {padding} the image "
            f"({h + 2 * padding[0]}, {w + 2 * padding[1]}) is smaller than the (dilated) kernel "
            f"({dilation[0] * (kernel[0] - 1) + 1}, {dilation[1] * (kernel[1] - 1) + 1})")
    return ho, wo


def _offsets(kernel, stride, dilation, out_hw):
    """For each kernel offset (i, j): the slices of the padded input it reads for every output pixel."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, (slice(i * dh, i * dh + sh * (ho - 1) + 1, sh),
                         slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))


def _padded_cnhw(x: np.ndarray, padding) -> np.ndarray:
    """x (N, C, H, W) -> a channel-major copy (C, N, H + 2ph, W + 2pw) with a border of zeros."""
    n, c, h, w = x.shape
    ph, pw = padding
    xp = np.empty((c, n, h + 2 * ph, w + 2 * pw))
    if ph or pw:
        xp[:, :, :ph], xp[:, :, ph + h:], xp[:, :, :, :pw], xp[:, :, :, pw + w:] = 0.0, 0.0, 0.0, 0.0
    xp[:, :, ph:ph + h, pw:pw + w] = x.transpose(1, 0, 2, 3)
    return xp


def im2col(x, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The patch matrix: one column per output pixel, holding the input patch that kernel position sees.

    Column ``(n, y, x)`` (in that order) holds ``x_padded[n, c, s*y + d*i, s*x + d*j]``
    for every kernel entry, with rows ordered ``(c, i, j)`` like a flattened
    weight: a convolution is ``weight.reshape(C_out, -1) @ im2col(x)``.
    Built with one strided copy per kernel offset (i, j), each covering every
    image, channel and output pixel at once.

    Shape:
        x (N, C, H, W) -> (C*kh*kw, N*Ho*Wo), Ho and Wo as in the module docstring.
    """
    x = np.asarray(x, dtype=np.float64)
    kernel, stride = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding"), _pair(dilation, "dilation")
    if x.ndim != 4:
        raise ValueError(f"im2col expected input of shape (N, C, H, W), got {shape_str(x.shape)}")
    ho, wo = _output_hw("im2col", x.shape, kernel, stride, padding, dilation)
    n, c = x.shape[:2]
    xp = _padded_cnhw(x, padding)                                  # (C, N, Hp, Wp)
    cols = np.empty((c, kernel[0], kernel[1], n, ho, wo))
    for i, j, (rows, columns) in _offsets(kernel, stride, dilation, (ho, wo)):
        cols[:, i, j] = xp[:, :, rows, columns]                    # (C, N, Ho, Wo)
    return cols.reshape(c * kernel[0] * kernel[1], n * ho * wo)


def col2im(cols, x_shape, kernel_size, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The adjoint of ``im2col``: add each patch-matrix entry back onto the pixel it was copied from.

    Where windows overlap, a pixel appears in several columns and its entries
    add up: this sum is what makes ``col2im`` the gradient of ``im2col``.

    Shape:
        cols (C*kh*kw, N*Ho*Wo), x_shape = (N, C, H, W) -> (N, C, H, W)
        (a channel-major array seen through an (N, C, H, W) view).
    """
    kernel, stride = _pair(kernel_size, "kernel_size"), _pair(stride, "stride")
    padding, dilation = _pair(padding, "padding"), _pair(dilation, "dilation")
    n, c, h, w = x_shape
    ho, wo = _output_hw("col2im", x_shape, kernel, stride, padding, dilation)
    expected = (c * kernel[0] * kernel[1], n * ho * wo)
    cols = np.asarray(cols, dtype=np.float64)
    if cols.shape != expected:
        raise ValueError(f"col2im expected cols of shape {shape_str(expected)} for x_shape "
                         f"{shape_str(tuple(x_shape))}, got {shape_str(cols.shape)}")
    cols = cols.reshape(c, kernel[0], kernel[1], n, ho, wo)
    (ph, pw) = padding
    dxp = np.zeros((c, n, h + 2 * ph, w + 2 * pw))                 # (C, N, Hp, Wp)
    for i, j, (rows, columns) in _offsets(kernel, stride, dilation, (ho, wo)):
        dxp[:, :, rows, columns] += cols[:, i, j]                  # in place: no temporary image
    return dxp[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)   # (N, C, H, W) view


def _check_images(who: str, x, channels: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 4 or (channels is not None and x.shape[1] != channels):
        c = "C" if channels is None else str(channels)
        raise ValueError(f"{who} got input of shape {shape_str(x.shape)}; expected (N, {c}, H, W)")
    return x


class Conv2d(Module):
    """2-D cross-correlation, as torch.nn.Conv2d (groups=1, zero padding).

        out[n, o, y, x] = bias[o] + Σ_{c,i,j} weight[o, c, i, j] · x_pad[n, c, s·y + d·i, s·x + d·j]

    computed as one matrix product on the patch matrix (``im2col``); the
    backward pass multiplies by the transposes and folds the patch gradients
    back onto the image (``col2im``).

    Args:
        in_channels, out_channels: C_in and C_out.
        kernel_size, stride, padding, dilation: ints or (h, w) pairs.
        bias: learn an additive bias per output channel.
        rng: a ``numpy.random.Generator`` (or seed) for the initial weights.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, Ho, Wo),
        Ho = (H + 2p - d(kh - 1) - 1) // s + 1 (Wo likewise).
        weight (C_out, C_in, kh, kw), bias (C_out,).

    Initialisation as torch: U(-k, k) with k = 1/sqrt(C_in·kh·kw).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, bias: bool = True, rng=None):
        super().__init__()
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        if min(self.kernel_size + self.stride + self.dilation) < 1 or min(self.padding) < 0:
            raise ValueError(f"Conv2d: kernel_size, stride and dilation must be >= 1 and padding >= 0, got "
                             f"{self.kernel_size}, {self.stride}, {self.dilation}, {self.padding}")
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels, *self.kernel_size)))
        self.bias = Parameter(np.empty(self.out_channels)) if bias else None
        self._cols = self._x_shape = None
        self.reset_parameters(rng)

    def reset_parameters(self, rng=None) -> None:
        rng = np.random.default_rng(rng)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        k = 1.0 / np.sqrt(fan_in) if fan_in else 0.0
        self.weight.data[...] = rng.uniform(-k, k, self.weight.shape)
        if self.bias is not None:
            self.bias.data[...] = rng.uniform(-k, k, self.bias.shape)


    def forward(self, x):
        x = _check_images(f"Conv2d(in_channels={self.in_channels})", x, self.in_channels)
        n = x.shape[0]
        ho, wo = _output_hw(repr(self), x.shape, self.kernel_size, self.stride, self.padding, self.dilation)
        self._x_shape = x.shape
        self._cols = im2col(x, self.kernel_size, self.stride, self.padding, self.dilation)  # (C_in*kh*kw, N*Ho*Wo)
        out = self.weight.data.reshape(self.out_channels, -1) @ self._cols                  # (C_out, N*Ho*Wo)
        if self.bias is not None:
            out += self.bias.data[:, None]
        return out.reshape(self.out_channels, n, ho, wo).transpose(1, 0, 2, 3)            # (N, C_out, Ho, Wo)

    def backward(self, grad_out):
        cols = self._cols
        n = None if self._x_shape is None else self._x_shape[0]
        expected = None if cols is None else (n, self.out_channels) + _output_hw(
            "Conv2d", self._x_shape, self.kernel_size, self.stride, self.padding, self.dilation)
        grad_out = check_grad_shape("Conv2d", grad_out, expected)
        g = grad_out.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)                  # (C_out, N*Ho*Wo)
        self.weight.grad += (g @ cols.T).reshape(self.weight.shape)                         # (C_out, C_in, kh, kw)
        if self.bias is not None:
            self.bias.grad += g.sum(axis=1)
        grad_cols = self.weight.data.reshape(self.out_channels, -1).T @ g                   # (C_in*kh*kw, N*Ho*Wo)
        return col2im(grad_cols, self._x_shape, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s + ("" if self.bias is not None else ", bias=False")


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        if min(self.kernel_size + self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"{type(self).__name__}: kernel_size and stride must be >= 1 and padding >= 0, "
                             f"got {self.kernel_size}, {self.stride}, {self.padding}")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{type(self).__name__}: padding should be at most half of kernel_size, "
                             f"got padding={self.padding}, kernel_size={self.kernel_size}")
        self._x_shape = None

    def _expected_out(self):
        if self._x_shape is None:
            return None
        return self._x_shape[:2] + _output_hw(type(self).__name__, self._x_shape, self.kernel_size,
                                              self.stride, self.padding, (1, 1))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _pad_nchw(x: np.ndarray, padding, fill: float) -> np.ndarray:
    ph, pw = padding
    if not (ph or pw):
        return x
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), fill)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


class MaxPool2d(_Pool2d):
    """The largest value of each kh×kw window, as torch.nn.MaxPool2d (dilation 1, floor mode).

    The gradient goes to the window's largest input only (1 to the max, 0
    elsewhere); on ties, to the first in row-major order, as torch's CPU kernel.
    Forward keeps, per output pixel, which kernel offset won; backward adds
    grad_out into the input through one strided slice per offset. Where
    windows overlap (stride < kernel_size) a pixel may win several windows and
    its gradients add.

    Args:
        kernel_size: int or (kh, kw).
        stride: defaults to ``kernel_size`` (non-overlapping windows).
        padding: implicit -inf border, at most half the kernel.

    Shape:
        input (N, C, H, W) -> output (N, C, Ho, Wo), Ho = (H + 2p - kh) // s + 1.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__(kernel_size, stride, padding)
        self._winner = None

    def forward(self, x):
        x = _check_images(type(self).__name__, x)
        ho, wo = _output_hw(type(self).__name__, x.shape, self.kernel_size, self.stride, self.padding, (1, 1))
        self._x_shape = x.shape
        xp = _pad_nchw(x, self.padding, -np.inf)
        index_type = np.int8 if self.kernel_size[0] * self.kernel_size[1] <= 127 else np.int32
        out = winner = None
        for k, (_, _, (rows, columns)) in enumerate(_offsets(self.kernel_size, self.stride, (1, 1), (ho, wo))):
            v = xp[:, :, rows, columns]                                   # (N, C, Ho, Wo)
            if out is None:
                out, winner = np.copy(v, order="K"), np.zeros(v.shape, dtype=index_type)
                continue
            better = v > out                          # strict: ties stay with the earlier offset, as torch
            np.maximum(out, v, out=out)               # no branches: faster than copying where better
            # k grows with every offset, so "k if better else unchanged" is a maximum (branch-free)
            np.maximum(winner, better * index_type(k), out=winner)
        self._winner = winner                         # which kernel offset won, per output pixel
        return out

    def backward(self, grad_out):
        grad_out = check_grad_shape(type(self).__name__, grad_out, self._expected_out())
        ho, wo = grad_out.shape[2:]
        n, c, h, w = self._x_shape
        (ph, pw) = self.padding
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        # Windows that tile the image exactly write every pixel once: no zeroing, no sums.
        tiles = (sh, sw) == (kh, kw) and (ph, pw) == (0, 0) and (ho * kh, wo * kw) == (h, w)
        dxp = (np.empty if tiles else np.zeros)((n, c, h + 2 * ph, w + 2 * pw))
        for k, (_, _, (rows, columns)) in enumerate(_offsets(self.kernel_size, self.stride, (1, 1), (ho, wo))):
            if tiles:                                 # 1 to the max, 0 elsewhere
                np.multiply(grad_out, self._winner == k, out=dxp[:, :, rows, columns])
            else:                                     # a pixel may win several overlapping windows
                dxp[:, :, rows, columns] += grad_out * (self._winner == k)
        return dxp[:, :, ph:ph + h, pw:pw + w]


class AvgPool2d(_Pool2d):
    """The mean of each kh×kw window, as torch.nn.AvgPool2d (floor mode).

    Every input of a window gets grad_out / (window size); overlapping windows add.

    Args:
        kernel_size: int or (kh, kw).
        stride: defaults to ``kernel_size``.
        padding: implicit zero border, at most half the kernel.
        count_include_pad: divide by kh·kw even where the window covers padding
            (torch's default); otherwise by the number of real pixels in it.

    Shape:
        input (N, C, H, W) -> output (N, C, Ho, Wo), Ho = (H + 2p - kh) // s + 1.
    """

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding)
        self.count_include_pad = bool(count_include_pad)
        self._divisor = None

    def _window_sums(self, xp, ho, wo):
        out = None
        for _, _, (rows, columns) in _offsets(self.kernel_size, self.stride, (1, 1), (ho, wo)):
            v = xp[..., rows, columns]
            out = v.copy() if out is None else out.__iadd__(v)
        return out

    def forward(self, x):
        x = _check_images(type(self).__name__, x)
        ho, wo = _output_hw(type(self).__name__, x.shape, self.kernel_size, self.stride, self.padding, (1, 1))
        self._x_shape = x.shape
        if self.count_include_pad or self.padding == (0, 0):
            self._divisor = float(self.kernel_size[0] * self.kernel_size[1])
        else:                                        # real pixels per window: pool an image of ones
            self._divisor = self._window_sums(_pad_nchw(np.ones((1, 1) + x.shape[2:]), self.padding, 0.0), ho, wo)
        return self._window_sums(_pad_nchw(x, self.padding, 0.0), ho, wo) / self._divisor

    def backward(self, grad_out):
        grad_out = check_grad_shape(type(self).__name__, grad_out, self._expected_out())
        ho, wo = grad_out.shape[2:]
        n, c, h, w = self._x_shape
        (ph, pw) = self.padding
        share = grad_out / self._divisor                                   # (N, C, Ho, Wo)
        dxp = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
        for _, _, (rows, columns) in _offsets(self.kernel_size, self.stride, (1, 1), (ho, wo)):
            dxp[:, :, rows, columns] += share
        return dxp[:, :, ph:ph + h, pw:pw + w]

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.count_include_pad else ", count_include_pad=False")


class Flatten(Module):
    """Merge dimensions ``start_dim`` .. ``end_dim`` into one, as torch.nn.Flatten.

    Shape:
        input (N, C, H, W) -> output (N, C·H·W) with the defaults start_dim=1, end_dim=-1.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)
        self._x_shape = None

    def forward(self, x):
        x = np.asarray(x, dtype=np.float64)
        start, end = self.start_dim % max(x.ndim, 1), self.end_dim % max(x.ndim, 1)
        if x.ndim == 0 or start > end:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}) got input of shape "
                             f"{shape_str(x.shape)}; expected at least {max(self.start_dim, self.end_dim) + 1} "
                             "dimensions with start_dim before end_dim")
        self._x_shape = x.shape
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])

    def backward(self, grad_out):
        expected = None
        if self._x_shape is not None:
            start, end = self.start_dim % len(self._x_shape), self.end_dim % len(self._x_shape)
            s = self._x_shape
            expected = s[:start] + (int(np.prod(s[start:end + 1])),) + s[end + 1:]
        return check_grad_shape("Flatten", grad_out, expected).reshape(self._x_shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
