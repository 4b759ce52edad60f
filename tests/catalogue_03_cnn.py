"""Unit 03's catalogue (cnn.ipynb): plausible wrong answers, each a patch on the reference answer, and
different but correct answers (see catalogue.py)."""
from __future__ import annotations

from catalogue import Right, w

UNIT, NOTEBOOK = "03_cnn", "cnn"

_NO_PAD = ("x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))", "x_pad = x")
_REF_CNN = ("nnlib.Conv2d(1, 16, 3, padding=1, rng=rng), nnlib.ReLU(), nnlib.MaxPool2d(2),    # (N, 16, 4, 4)\n"
            "        nnlib.Conv2d(16, 32, 3, padding=1, rng=rng), nnlib.ReLU(), nnlib.MaxPool2d(2),   # (N, 32, 2, 2)\n"
            "        nnlib.Flatten(), nnlib.Linear(32 * 2 * 2, 10, rng=rng))")

WRONG = [
    # im2col
    w("im2col_without_padding", "im2col", *_NO_PAD, "test_im2col", "the shape without padding",
      ("ho = (h + 2 * padding - kh) // stride + 1", "ho = (h - kh) // stride + 1"),
      ("wo = (w + 2 * padding - kw) // stride + 1", "wo = (w - kw) // stride + 1")),
    w("im2col_ignores_stride", "im2col", "x_pad[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride]",
      "x_pad[:, :, i:i + ho, j:j + wo]", "test_im2col", "ignored the stride"),
    w("im2col_rows_channels_last", "im2col", "cols = np.empty((c, kh, kw, n, ho, wo))",
      "cols = np.empty((kh, kw, c, n, ho, wo))", "test_im2col", "ordered (i, j, c)",
      ("cols[:, i, j] = patch", "cols[i, j] = patch")),
    w("im2col_columns_image_last", "im2col", "cols = np.empty((c, kh, kw, n, ho, wo))",
      "cols = np.empty((c, kh, kw, ho, wo, n))", "test_im2col", "ordered (y, x, n)",
      ("patch.transpose(1, 0, 2, 3)", "patch.transpose(1, 2, 3, 0)")),
    # conv2d_forward
    w("forward_flips_the_kernel", "conv2d_forward", "out = weight.reshape(c_out, -1) @ cols",
      "out = weight[:, :, ::-1, ::-1].reshape(c_out, -1) @ cols", "test_conv2d_forward", "flipped the kernel"),
    w("forward_without_bias", "conv2d_forward", " + bias[:, None]", "", "test_conv2d_forward", "bias is missing"),
    w("forward_mixes_images_and_channels", "conv2d_forward",
      "out = out.reshape(c_out, n, ho, wo).transpose(1, 0, 2, 3)", "out = out.reshape(n, c_out, ho, wo)",
      "test_conv2d_forward", "images and channels are mixed up"),
    # conv2d_backward
    w("col2im_assigns_instead_of_adding", "conv2d_backward", "] += cols[:, i, j]", "] = cols[:, i, j]",
      "test_conv2d_backward", "overlapping windows must add up"),
    w("col2im_keeps_the_padding", "conv2d_backward",
      "return x_pad[:, :, padding:padding + h, padding:padding + w]", "return x_pad",
      "test_conv2d_backward", "cut the padding off"),
    w("backward_flips_the_kernel", "conv2d_backward", "grad_cols = weight.reshape(c_out, -1).T @ g",
      "grad_cols = weight[:, :, ::-1, ::-1].reshape(c_out, -1).T @ g", "test_conv2d_backward", "flipped kernel"),
    w("grad_bias_averaged", "conv2d_backward", "grad_bias = g.sum(axis=1)", "grad_bias = g.mean(axis=1)",
      "test_conv2d_backward", "you averaged grad_out"),
    w("grad_weight_averaged", "conv2d_backward", "grad_weight = (g @ cols.T).reshape(weight.shape)",
      "grad_weight = (g @ cols.T).reshape(weight.shape) / g.shape[1]",
      "test_conv2d_backward", "averaged over images and positions"),
    # maxpool2d_backward
    w("maxpool_gradient_to_every_position", "maxpool2d_backward", "+= grad_out * (winner == k)", "+= grad_out",
      "test_maxpool2d_backward", "to the window's maximum only"),
    w("maxpool_gradient_shared_like_average", "maxpool2d_backward", "+= grad_out * (winner == k)",
      "+= grad_out / (kh * kw)", "test_maxpool2d_backward", "average pooling's gradient"),
    w("maxpool_gradient_to_every_tied_maximum", "maxpool2d_backward", "grad_out * (winner == k)",
      "grad_out * (windows[..., k] == windows.max(axis=-1))", "test_maxpool2d_backward", "first maximum"),
    w("maxpool_overlaps_assigned", "maxpool2d_backward", "] += grad_out * (winner == k)", "] = grad_out * (winner == k)",
      "test_maxpool2d_backward", "add with +="),
    # build_cnn
    w("cnn_without_convolutions", "build_cnn", _REF_CNN,
      "nnlib.Flatten(), nnlib.Linear(64, 64, rng=rng), nnlib.ReLU(), nnlib.Linear(64, 10, rng=rng))",
      "test_build_cnn", "no nnlib.Conv2d"),
    w("cnn_without_nonlinearity", "build_cnn", ", nnlib.ReLU()", "", "test_build_cnn", "no non-linearity"),
    w("cnn_ignores_rng", "build_cnn", "rng=rng", "rng=0", "test_build_cnn", "pass rng=rng to every layer"),
    w("cnn_nine_outputs", "build_cnn", "nnlib.Linear(32 * 2 * 2, 10, rng=rng)", "nnlib.Linear(32 * 2 * 2, 9, rng=rng)",
      "test_build_cnn", "10 logits per image"),
]

RIGHT = [
    Right("im2col_loop_over_output_pixels", "im2col", '''\
def im2col(x, kernel_size, stride=1, padding=0):
    n, c, h, w = x.shape
    kh, kw = kernel_size
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.zeros((c * kh * kw, n * ho * wo))
    column = 0
    for b in range(n):
        for y in range(ho):
            for x_ in range(wo):
                cols[:, column] = x_pad[b, :, y * stride:y * stride + kh, x_ * stride:x_ * stride + kw].ravel()
                column += 1
    return cols
'''),
    Right("conv2d_forward_with_tensordot", "conv2d_forward", '''\
def conv2d_forward(x, weight, bias, stride=1, padding=0):
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    cols = im2col(x, (kh, kw), stride, padding)
    out = np.tensordot(weight, cols.reshape(c_in, kh, kw, -1), axes=([1, 2, 3], [0, 1, 2]))
    out = np.moveaxis((out + bias[:, None]).reshape(c_out, n, ho, wo), 0, 1)
    return out, (x.shape, cols, weight, stride, padding)
'''),
    Right("conv2d_backward_with_pixel_loops", "conv2d_backward", '''\
def col2im(cols, x_shape, kernel_size, stride=1, padding=0):
    n, c, h, w = x_shape
    kh, kw = kernel_size
    ho, wo = (h + 2 * padding - kh) // stride + 1, (w + 2 * padding - kw) // stride + 1
    x_pad = np.zeros((n, c, h + 2 * padding, w + 2 * padding))
    column = 0
    for b in range(n):
        for y in range(ho):
            for x_ in range(wo):
                x_pad[b, :, y * stride:y * stride + kh, x_ * stride:x_ * stride + kw] += \\
                    cols[:, column].reshape(c, kh, kw)
                column += 1
    return x_pad[:, :, padding:h + padding, padding:w + padding]


def conv2d_backward(grad_out, cache):
    x_shape, cols, weight, stride, padding = cache
    g = np.concatenate([grad_out[b].reshape(grad_out.shape[1], -1) for b in range(grad_out.shape[0])], axis=1)
    grad_weight = np.einsum("ok,rk->or", g, cols).reshape(weight.shape)
    grad_bias = grad_out.sum(axis=(0, 2, 3))
    grad_x = col2im(weight.reshape(weight.shape[0], -1).T @ g, x_shape, weight.shape[2:], stride, padding)
    return grad_x, grad_weight, grad_bias
'''),
    Right("maxpool_backward_loop_over_windows", "maxpool2d_backward", '''\
def maxpool2d_backward(grad_out, x, kernel_size, stride):
    kh, kw = kernel_size
    grad_x = np.zeros_like(x)
    n, c, ho, wo = grad_out.shape
    for b in range(n):
        for ch in range(c):
            for y in range(ho):
                for x_ in range(wo):
                    window = x[b, ch, y * stride:y * stride + kh, x_ * stride:x_ * stride + kw]
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    grad_x[b, ch, y * stride + i, x_ * stride + j] += grad_out[b, ch, y, x_]
    return grad_x
'''),
    Right("cnn_without_pooling_and_tanh", "build_cnn", '''\
import nnlib


def build_cnn(rng):
    return nnlib.Sequential(nnlib.Conv2d(1, 8, 3, rng=rng), nnlib.Tanh(),        # (N, 8, 6, 6)
                            nnlib.Conv2d(8, 16, 3, rng=rng), nnlib.Tanh(),       # (N, 16, 4, 4)
                            nnlib.Flatten(), nnlib.Linear(16 * 4 * 4, 10, rng=rng))
'''),
]
