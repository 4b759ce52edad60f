"""Conv2d, MaxPool2d, AvgPool2d, Flatten, im2col/col2im: forward and backward against two oracles.

Oracle 1 is torch autograd in float64 through the fake loss (out * dout).sum()
with weights copied by load_state_dict; oracle 2 is central differences
(nnlib.gradcheck). Shapes, strides, paddings and dilations come from a seeded
generator; each layer also has one case small enough to compute by hand.
"""
import inspect

import numpy as np
import pytest
import torch

import nnlib
import torch_oracle
from torch_oracle import copy_into_torch

pytestmark = pytest.mark.unit03

RTOL, ATOL = 1e-10, 1e-11


def assert_same_as_torch(ours, theirs, x, dout):
    torch_oracle.assert_same_as_torch(ours, theirs, x, dout, RTOL, ATOL)


def pair(rng, low, high):
    """An int, or now and then an (h, w) pair of different values."""
    a, b = (int(v) for v in rng.integers(low, high + 1, size=2))
    return (a, b) if rng.random() < 0.4 else a


def as_pair(v):
    return v if isinstance(v, tuple) else (v, v)


def conv_cases(count=24, seed=303):
    """(N, C_in, C_out, H, W, kernel, stride, padding, dilation, bias), each a valid torch configuration."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        k, s, d = pair(rng, 1, 4), pair(rng, 1, 3), (pair(rng, 1, 2) if rng.random() < 0.3 else 1)
        p = pair(rng, 0, 2)
        n, c_in, c_out = (int(v) for v in rng.integers(1, 5, size=3))
        h, w = (int(v) for v in rng.integers(1, 11, size=2))
        span = [dd * (kk - 1) + 1 for kk, dd in zip(as_pair(k), as_pair(d))]
        if h + 2 * as_pair(p)[0] < span[0] or w + 2 * as_pair(p)[1] < span[1]:
            continue
        cases.append((n, c_in, c_out, h, w, k, s, p, d, bool(rng.random() < 0.75)))
    return cases


def pool_cases(count=24, seed=404):
    """(N, C, H, W, kernel, stride or None, padding), padding at most half the kernel as torch requires."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        k = pair(rng, 1, 4)
        s = None if rng.random() < 0.3 else pair(rng, 1, 3)
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in as_pair(k))
        p = p[0] if p[0] == p[1] else p
        n, c = (int(v) for v in rng.integers(1, 4, size=2))
        h, w = (int(v) for v in rng.integers(1, 10, size=2))
        if h + 2 * as_pair(p)[0] < as_pair(k)[0] or w + 2 * as_pair(p)[1] < as_pair(k)[1]:
            continue
        cases.append((n, c, h, w, k, s, p))
    return cases


CONV_CASES, POOL_CASES = conv_cases(), pool_cases()


def cid(case):
    n, c_in, c_out, h, w, k, s, p, d, bias = case
    return f"x{(n, c_in, h, w)}-out{c_out}-k{k}-s{s}-p{p}-d{d}-{'bias' if bias else 'nobias'}"


def pid(case):
    n, c, h, w, k, s, p = case
    return f"x{(n, c, h, w)}-k{k}-s{s}-p{p}"


# -- Conv2d -----------------------------------------------------------------

@pytest.mark.parametrize("case", CONV_CASES, ids=cid)
def test_conv2d_forward_and_backward_match_torch(case):
    n, c_in, c_out, h, w, k, s, p, d, bias = case
    rng = np.random.default_rng([n, c_in, c_out, h, w])
    ours = nnlib.Conv2d(c_in, c_out, k, stride=s, padding=p, dilation=d, bias=bias, rng=rng)
    theirs = copy_into_torch(ours, torch.nn.Conv2d(c_in, c_out, k, stride=s, padding=p, dilation=d,
                                                   bias=bias, dtype=torch.float64))
    assert_same_as_torch(ours, theirs, rng.standard_normal((n, c_in, h, w)), rng)


@pytest.mark.parametrize("case", CONV_CASES[:6], ids=cid)
def test_conv2d_backward_matches_numerical_gradients(case):
    n, c_in, c_out, h, w, k, s, p, d, bias = case
    conv = nnlib.Conv2d(c_in, c_out, k, stride=s, padding=p, dilation=d, bias=bias, rng=1)
    nnlib.gradcheck(conv, np.random.default_rng(2).standard_normal((min(n, 2), c_in, h, w)), rng=3)


def test_conv2d_by_hand_sums_each_patch_times_the_kernel():
    conv = nnlib.Conv2d(1, 1, 2)
    conv.weight.data[...] = [[[[1.0, 2.0], [3.0, 4.0]]]]
    conv.bias.data[...] = [0.5]
    x = np.arange(9.0).reshape(1, 1, 3, 3)         # 0 1 2 / 3 4 5 / 6 7 8
    out = conv.forward(x)
    # top-left patch [[0, 1], [3, 4]] · [[1, 2], [3, 4]] = 0 + 2 + 9 + 16 = 27, plus the bias
    np.testing.assert_array_equal(out, [[[[27.5, 37.5], [57.5, 67.5]]]])
    dx = conv.backward(np.ones((1, 1, 2, 2)))
    # each pixel gets the sum of the kernel entries that touched it
    np.testing.assert_array_equal(dx, [[[[1, 3, 2], [4, 10, 6], [3, 7, 4]]]])
    np.testing.assert_array_equal(conv.weight.grad, [[[[8, 12], [20, 24]]]])   # sum of each shifted 2x2 view
    np.testing.assert_array_equal(conv.bias.grad, [4.0])


def test_conv2d_padding_and_stride_by_hand():
    conv = nnlib.Conv2d(1, 1, 3, stride=2, padding=1, bias=False)
    conv.weight.data[...] = 1.0
    out = conv.forward(np.ones((1, 1, 4, 4)))
    # windows centred on (0, 0), (0, 2), (2, 0), (2, 2): the corner sees 4 real pixels, the others 6 and 9
    np.testing.assert_array_equal(out, [[[[4, 6], [6, 9]]]])


def test_conv2d_output_is_a_view_that_behaves_like_any_array():
    conv = nnlib.Conv2d(2, 3, 3, padding=1, rng=0)
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 5))
    out = conv.forward(x)
    assert out.shape == (2, 3, 5, 5)
    nxt = nnlib.Conv2d(3, 2, 3, rng=2)
    copy = np.ascontiguousarray(out)
    np.testing.assert_array_equal(nxt.forward(out), nxt.forward(copy))


def test_conv2d_initialisation_as_torch_bound():
    conv = nnlib.Conv2d(4, 50, (3, 5), rng=0)
    k = 1 / np.sqrt(4 * 3 * 5)
    assert conv.weight.shape == (50, 4, 3, 5) and conv.bias.shape == (50,)
    assert np.abs(conv.weight.data).max() <= k and np.abs(conv.weight.data).max() > 0.9 * k
    assert np.abs(conv.bias.data).max() <= k


def test_conv2d_does_not_modify_its_input():
    conv = nnlib.Conv2d(2, 2, 3, padding=1, rng=0)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    before = x.copy()
    conv.backward(np.ones_like(conv.forward(x)))
    np.testing.assert_array_equal(x, before)


# -- im2col / col2im --------------------------------------------------------

@pytest.mark.parametrize("case", CONV_CASES[:8], ids=cid)
def test_im2col_matches_torch_unfold_up_to_column_order(case):
    n, c_in, _, h, w, k, s, p, d, _ = case
    x = np.random.default_rng(5).standard_normal((n, c_in, h, w))
    ours = nnlib.im2col(x, k, s, p, d)                            # (C*kh*kw, N*Ho*Wo)
    theirs = torch.nn.functional.unfold(torch.from_numpy(x), k, dilation=d, padding=p, stride=s).numpy()
    # torch: (N, C*kh*kw, Ho*Wo) -> ours by moving N next to the pixels
    np.testing.assert_array_equal(ours, theirs.transpose(1, 0, 2).reshape(ours.shape))


@pytest.mark.parametrize("case", CONV_CASES[:8], ids=cid)
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), c> = <x, col2im(c)> for all x, c: col2im is im2col's transpose (and torch's fold)."""
    n, c_in, _, h, w, k, s, p, d, _ = case
    rng = np.random.default_rng(6)
    x = rng.standard_normal((n, c_in, h, w))
    cols = nnlib.im2col(x, k, s, p, d)
    c = rng.standard_normal(cols.shape)
    back = nnlib.col2im(c, x.shape, k, s, p, d)
    np.testing.assert_allclose(np.sum(cols * c), np.sum(x * back), rtol=1e-12)
    folded = torch.nn.functional.fold(
        torch.from_numpy(c.reshape(c.shape[0], n, -1).transpose(1, 0, 2).copy()), (h, w), k,
        dilation=d, padding=p, stride=s).numpy()
    np.testing.assert_allclose(back, folded, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("h, k, s, p, d", [(28, 3, 1, 1, 1), (28, 5, 1, 0, 1), (32, 3, 2, 1, 1),
                                           (7, 2, 2, 0, 1), (10, 3, 1, 2, 2), (5, 5, 3, 2, 1)])
def test_conv_output_size_formula_matches_torch(h, k, s, p, d):
    out = torch.nn.functional.conv2d(torch.zeros(1, 1, h, h), torch.zeros(1, 1, k, k), stride=s, padding=p,
                                     dilation=d)
    assert nnlib.conv_output_size(h, k, s, p, d) == out.shape[-1]


# -- pooling ----------------------------------------------------------------

@pytest.mark.parametrize("case", POOL_CASES, ids=pid)
@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
def test_pool_forward_and_backward_match_torch(kind, case):
    n, c, h, w, k, s, p = case
    rng = np.random.default_rng([n, c, h, w])
    ours, theirs = getattr(nnlib, kind)(k, s, p), getattr(torch.nn, kind)(k, s, p)
    assert_same_as_torch(ours, theirs, rng.standard_normal((n, c, h, w)), rng)


@pytest.mark.parametrize("case", [cs for cs in POOL_CASES if as_pair(cs[6]) != (0, 0)][:6], ids=pid)
def test_avgpool_without_counting_padding_matches_torch(case):
    n, c, h, w, k, s, p = case
    rng = np.random.default_rng(9)
    assert_same_as_torch(nnlib.AvgPool2d(k, s, p, count_include_pad=False),
                         torch.nn.AvgPool2d(k, s, p, count_include_pad=False), rng.standard_normal((n, c, h, w)), rng)


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1), (3, 2), ((2, 3), (1, 2))])
def test_maxpool_ties_send_the_gradient_to_the_first_maximum_as_torch(kernel, stride):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2, size=(2, 3, 7, 8)).astype(np.float64)   # many equal values in every window
    assert_same_as_torch(nnlib.MaxPool2d(kernel, stride), torch.nn.MaxPool2d(kernel, stride), x, rng)


@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
def test_pool_backward_matches_numerical_gradients(kind):
    x = np.random.default_rng(4).standard_normal((2, 2, 5, 6))     # distinct values: max is differentiable
    for k, s, p in [(2, None, 0), (3, 1, 1), (3, 2, 1)]:
        nnlib.gradcheck(getattr(nnlib, kind)(k, s, p), x, rng=5)


def test_maxpool_by_hand_routes_the_gradient_to_the_max_only():
    x = np.array([[[[1.0, 5.0, 2.0, 0.0],
                    [3.0, 4.0, 8.0, 7.0],
                    [0.0, 0.0, 1.0, 1.0],
                    [9.0, 0.0, 1.0, 1.0]]]])
    pool = nnlib.MaxPool2d(2)
    np.testing.assert_array_equal(pool.forward(x), [[[[5.0, 8.0], [9.0, 1.0]]]])
    dx = pool.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    np.testing.assert_array_equal(dx, [[[[0, 10, 0, 0], [0, 0, 20, 0], [0, 0, 40, 0], [30, 0, 0, 0]]]])


def test_maxpool_overlapping_windows_add_the_gradients_of_a_shared_max():
    x = np.array([[[[0.0, 1.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]])
    pool = nnlib.MaxPool2d(2, stride=1)                  # the centre 9 wins all four windows
    np.testing.assert_array_equal(pool.forward(x), [[[[9.0, 9.0], [9.0, 9.0]]]])
    dx = pool.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(dx, [[[[0, 0, 0], [0, 10, 0], [0, 0, 0]]]])


def test_avgpool_by_hand_shares_the_gradient_equally():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    pool = nnlib.AvgPool2d(2)
    np.testing.assert_array_equal(pool.forward(x), [[[[2.5, 4.5], [10.5, 12.5]]]])
    dx = pool.backward(np.array([[[[4.0, 8.0], [0.0, -4.0]]]]))
    np.testing.assert_array_equal(dx[0, 0, :2, :2], [[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(dx[0, 0, 2:, 2:], [[-1.0, -1.0], [-1.0, -1.0]])


def test_pool_stride_defaults_to_kernel_size_as_torch():
    for kind in ("MaxPool2d", "AvgPool2d"):
        ours, theirs = getattr(nnlib, kind)((2, 3)), getattr(torch.nn, kind)((2, 3))
        assert ours.stride == tuple(theirs.stride)


# -- Flatten ----------------------------------------------------------------

@pytest.mark.parametrize("shape, start, end", [((2, 3, 4, 5), 1, -1), ((2, 3, 4, 5), 0, -1),
                                               ((2, 3, 4, 5), 1, 2), ((2, 3, 4, 5), 2, 3), ((4, 6), 1, -1)])
def test_flatten_forward_and_backward_match_torch(shape, start, end):
    rng = np.random.default_rng(8)
    assert_same_as_torch(nnlib.Flatten(start, end), torch.nn.Flatten(start, end), rng.standard_normal(shape), rng)


def test_flatten_by_hand_keeps_row_major_order():
    x = np.arange(8.0).reshape(2, 2, 2)
    f = nnlib.Flatten()
    np.testing.assert_array_equal(f.forward(x), [[0, 1, 2, 3], [4, 5, 6, 7]])
    assert f.backward(np.ones((2, 4))).shape == (2, 2, 2)


# -- a small CNN end to end -------------------------------------------------

def test_small_cnn_matches_torch_layer_for_layer():
    rng = np.random.default_rng(11)
    ours = nnlib.Sequential(nnlib.Conv2d(1, 4, 3, padding=1, rng=rng), nnlib.ReLU(), nnlib.MaxPool2d(2),
                            nnlib.Conv2d(4, 6, 3, rng=rng), nnlib.ReLU(), nnlib.AvgPool2d(2),
                            nnlib.Flatten(), nnlib.Linear(6, 3, rng=rng))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.Conv2d(4, 6, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
                                 torch.nn.Flatten(), torch.nn.Linear(6, 3)).double()
    copy_into_torch(ours, theirs)
    assert_same_as_torch(ours, theirs, rng.standard_normal((5, 1, 8, 8)), rng)


# -- torch's vocabulary and errors -----------------------------------------

SIGNATURES = [(nnlib.Conv2d, torch.nn.Conv2d, {"rng"}), (nnlib.MaxPool2d, torch.nn.MaxPool2d, set()),
              (nnlib.AvgPool2d, torch.nn.AvgPool2d, set()), (nnlib.Flatten, torch.nn.Flatten, set())]


@pytest.mark.parametrize("ours, theirs, extras", SIGNATURES, ids=lambda v: getattr(v, "__name__", ""))
def test_constructor_arguments_order_and_defaults_match_torch(ours, theirs, extras):
    mine = inspect.signature(ours).parameters
    torch_params = inspect.signature(theirs).parameters
    names = [n for n in mine if n not in extras]
    assert set(names) <= set(torch_params), f"arguments torch does not have: {set(names) - set(torch_params)}"
    assert names == [n for n in torch_params if n in names], "shared arguments in a different order than torch"
    for n in names:
        assert mine[n].default == torch_params[n].default, f"default of {n}"


def test_conv2d_state_dict_names_and_shapes_equal_torch():
    ours, theirs = nnlib.Conv2d(3, 8, (3, 5)), torch.nn.Conv2d(3, 8, (3, 5))
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert [ours.kernel_size, ours.stride, ours.padding, ours.dilation] == \
        [theirs.kernel_size, theirs.stride, theirs.padding, theirs.dilation]


def test_conv2d_wrong_channels_names_expected_and_received():
    with pytest.raises(ValueError) as err:
        nnlib.Conv2d(3, 4, 3).forward(np.zeros((8, 5, 28, 28)))
    assert str(err.value) == "Conv2d(in_channels=3) got input of shape (8, 5, 28, 28); expected (N, 3, H, W)"


@pytest.mark.parametrize("layer", [lambda: nnlib.Conv2d(1, 1, 3), lambda: nnlib.MaxPool2d(2),
                                   lambda: nnlib.AvgPool2d(2)], ids=["Conv2d", "MaxPool2d", "AvgPool2d"])
def test_layers_reject_inputs_that_are_not_batches_of_images(layer):
    with pytest.raises(ValueError, match=r"\(28, 28\); expected \(N, "):
        layer().forward(np.zeros((28, 28)))


def test_image_smaller_than_the_kernel_names_both_sizes():
    with pytest.raises(ValueError) as err:
        nnlib.Conv2d(1, 1, 5, padding=1).forward(np.zeros((1, 1, 2, 2)))
    assert "(4, 4)" in str(err.value) and "(5, 5)" in str(err.value)


def test_pool_padding_larger_than_half_the_kernel_is_refused_as_torch():
    with pytest.raises(ValueError, match="half of kernel_size"):
        nnlib.MaxPool2d(2, padding=2)


@pytest.mark.parametrize("layer", [lambda: nnlib.Conv2d(2, 3, 3), lambda: nnlib.MaxPool2d(2),
                                   lambda: nnlib.AvgPool2d(2), nnlib.Flatten], ids=["Conv2d", "MaxPool2d",
                                                                                    "AvgPool2d", "Flatten"])
def test_backward_checks_before_forward_and_grad_shape(layer):
    with pytest.raises(RuntimeError, match="before forward"):
        layer().backward(np.zeros((1, 3, 2, 2)))
    m = layer()
    out = m.forward(np.zeros((1, 2, 6, 6)))
    wrong = out.shape[:-1] + (out.shape[-1] + 1,)
    with pytest.raises(ValueError) as err:
        m.backward(np.zeros(wrong))
    assert nnlib.module.shape_str(out.shape) in str(err.value) and nnlib.module.shape_str(wrong) in str(err.value)



# -- the benchmark script runs ----------------------------------------------

def test_conv_benchmark_runs_in_quick_mode():
    """Only that it runs and agrees with torch: speed is measured by the script itself, not by tests."""
    import subprocess
    import sys

    from harness import REPO
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_conv.py"), "--quick"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "MaxPool2d(2)" in proc.stdout and "Conv2d(16, 32" in proc.stdout
