"""Dropout and BatchNorm2d: training and evaluation behaviour, against torch and numerical gradients.

BatchNorm2d is compared with torch in float64 (forward, backward, running
statistics after several batches, evaluation with them). Dropout's masks are
random, so torch is the oracle for its conventions (which fraction is
dropped, how the kept entries are scaled, identity in eval) and central
differences, with the mask's generator reseeded, for its backward.
"""
import inspect

import numpy as np
import pytest
import torch

import nnlib

pytestmark = pytest.mark.unit03

RTOL, ATOL = 1e-9, 1e-11


# -- Dropout ----------------------------------------------------------------

def test_dropout_is_the_identity_in_eval_mode():
    d = nnlib.Dropout(0.5, rng=0).eval()
    x = np.random.default_rng(1).standard_normal((4, 3, 5))
    np.testing.assert_array_equal(d.forward(x), x)
    g = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_array_equal(d.backward(g), g)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_drops_a_fraction_p_and_scales_the_rest_like_torch(p):
    x = np.random.default_rng(0).uniform(1, 2, (200, 500))            # no zeros of its own
    ours = nnlib.Dropout(p, rng=1).forward(x)
    theirs = torch.nn.Dropout(p)(torch.from_numpy(x)).numpy()
    for out in (ours, theirs):
        dropped = out == 0
        assert abs(dropped.mean() - p) < 0.01
        np.testing.assert_allclose(out[~dropped] / x[~dropped], 1 / (1 - p), rtol=1e-12)
    # inverted dropout keeps the expected value: the mean of the output is the mean of the input
    assert abs(ours.mean() / x.mean() - 1) < 0.02


def test_dropout_backward_matches_numerical_gradients_for_a_fixed_mask():
    x = np.random.default_rng(3).standard_normal((3, 4, 5))
    g = np.random.default_rng(4).standard_normal(x.shape)
    d = nnlib.Dropout(0.3)

    def fake_loss():
        d.rng = np.random.default_rng(7)                                # the same mask every time
        return float(np.sum(d.forward(x) * g))

    fake_loss()
    analytic = d.backward(g)
    np.testing.assert_allclose(analytic, nnlib.numerical_gradient(fake_loss, x), rtol=1e-7, atol=1e-9)
    d.rng = np.random.default_rng(7)
    kept = d.forward(x) != 0
    assert 0 < kept.mean() < 1 and np.all(analytic[~kept] == 0)


def test_dropout_by_hand_with_a_known_mask():
    d = nnlib.Dropout(0.5, rng=0)
    x = np.array([2.0, 4.0, 6.0, 8.0])
    out = d.forward(x)
    kept = out != 0
    np.testing.assert_array_equal(out[kept], 2 * x[kept])             # 1 / (1 - 0.5) = 2
    np.testing.assert_array_equal(d.backward(np.ones(4)), 2.0 * kept)


def test_dropout_extremes_match_torch():
    x = np.random.default_rng(5).standard_normal((6, 7))
    np.testing.assert_array_equal(nnlib.Dropout(0.0).forward(x), torch.nn.Dropout(0.0)(torch.from_numpy(x)).numpy())
    np.testing.assert_array_equal(nnlib.Dropout(1.0).forward(x), torch.nn.Dropout(1.0)(torch.from_numpy(x)).numpy())


def test_dropout_masks_are_reproducible_from_rng_and_differ_between_calls():
    x = np.ones((50, 50))
    a, b = nnlib.Dropout(0.5, rng=3), nnlib.Dropout(0.5, rng=3)
    first = a.forward(x)
    np.testing.assert_array_equal(first, b.forward(x))
    assert not np.array_equal(first, a.forward(x))


def test_dropout_rejects_probabilities_outside_0_1():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nnlib.Dropout(1.5)


# -- BatchNorm2d ------------------------------------------------------------

def bn_cases(count=10, seed=505):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        n, c, h, w = (int(v) for v in rng.integers(1, 6, size=4))
        if n * h * w < 2:
            n = 2
        momentum = [0.1, 0.5, None][i % 3]
        cases.append(((n, c, h, w), bool(i % 4), momentum))
    return cases


def bid(case):
    shape, affine, momentum = case
    return f"x{shape}-{'affine' if affine else 'plain'}-momentum{momentum}"


def pair_of_batchnorms(c, affine=True, momentum=0.1, track_running_stats=True, seed=0):
    ours = nnlib.BatchNorm2d(c, momentum=momentum, affine=affine, track_running_stats=track_running_stats)
    theirs = torch.nn.BatchNorm2d(c, momentum=momentum, affine=affine,
                                  track_running_stats=track_running_stats, dtype=torch.float64)
    if affine:                       # not torch's 1 and 0, so that a swapped weight and bias would show
        rng = np.random.default_rng(seed)
        ours.weight.data[...] = rng.uniform(0.5, 2, c)
        ours.bias.data[...] = rng.standard_normal(c)
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()}, strict=False)
    return ours, theirs


def compare(ours, theirs, x, dout):
    theirs.zero_grad()
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    (out_t * torch.from_numpy(dout)).sum().backward()
    ours.zero_grad()
    out = ours.forward(x)
    dx = ours.backward(dout)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg="forward")
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg="input gradient")
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(theirs, name).grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("case", bn_cases(), ids=bid)
def test_batchnorm_train_then_eval_matches_torch(case):
    shape, affine, momentum = case
    rng = np.random.default_rng(list(shape))
    ours, theirs = pair_of_batchnorms(shape[1], affine, momentum)
    for step in range(3):                                  # the running statistics move with each batch
        x = 3.0 * rng.standard_normal(shape) + rng.standard_normal((1, shape[1], 1, 1))
        compare(ours.train(), theirs.train(), x, rng.standard_normal(shape))
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    assert ours.num_batches_tracked == theirs.num_batches_tracked.item() == 3
    x = rng.standard_normal(shape)
    compare(ours.eval(), theirs.eval(), x, rng.standard_normal(shape))


def test_batchnorm_without_running_stats_normalises_with_the_batch_in_eval_too():
    rng = np.random.default_rng(8)
    ours, theirs = pair_of_batchnorms(3, track_running_stats=False)
    assert ours.running_mean is None and theirs.running_mean is None
    x = 2 + rng.standard_normal((4, 3, 3, 3))
    compare(ours.eval(), theirs.eval(), x, rng.standard_normal(x.shape))


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batchnorm_backward_matches_numerical_gradients(training, affine):
    bn = nnlib.BatchNorm2d(3, affine=affine)
    if affine:
        bn.weight.data[...] = [0.5, 1.5, -2.0]
        bn.bias.data[...] = [0.1, 0.2, 0.3]
    bn.running_mean[...] = [0.5, -1.0, 2.0]
    bn.running_var[...] = [0.5, 2.0, 4.0]
    bn.train(training)
    x = np.random.default_rng(9).standard_normal((3, 3, 2, 4))
    nnlib.gradcheck(bn, x, rng=10)


def test_batchnorm_by_hand_gives_zero_mean_unit_variance_per_channel():
    bn = nnlib.BatchNorm2d(2, eps=0.0)
    x = np.zeros((2, 2, 1, 1))
    x[:, 0, 0, 0] = [1.0, 3.0]            # channel 0: mean 2, variance 1
    x[:, 1, 0, 0] = [10.0, 30.0]          # channel 1: mean 20, variance 100
    out = bn.forward(x)
    np.testing.assert_allclose(out[:, :, 0, 0], [[-1, -1], [1, 1]])
    # running stats: 0.9 * initial + 0.1 * batch, with the unbiased variance (N - 1 = 1 here)
    np.testing.assert_allclose(bn.running_mean, [0.2, 2.0])
    np.testing.assert_allclose(bn.running_var, [0.9 + 0.1 * 2.0, 0.9 + 0.1 * 200.0])
    bn.eval()
    np.testing.assert_allclose(bn.forward(np.full((1, 2, 1, 1), 0.2))[0, 0, 0, 0], 0.0, atol=1e-12)


def test_batchnorm_train_output_ignores_a_constant_shift_of_a_channel():
    x = np.random.default_rng(11).standard_normal((4, 2, 3, 3))
    bn = nnlib.BatchNorm2d(2)
    np.testing.assert_allclose(bn.forward(x), bn.forward(x + np.array([5.0, -3.0])[:, None, None]), atol=1e-12)


def test_batchnorm_needs_more_than_one_value_per_channel_in_training_as_torch():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nnlib.BatchNorm2d(3).forward(np.zeros((1, 3, 1, 1)))
    nnlib.BatchNorm2d(3).eval().forward(np.zeros((1, 3, 1, 1)))


def test_batchnorm_wrong_channels_names_expected_and_received():
    with pytest.raises(ValueError) as err:
        nnlib.BatchNorm2d(4).forward(np.zeros((8, 3, 5, 5)))
    assert str(err.value) == "BatchNorm2d(num_features=4) got input of shape (8, 3, 5, 5); expected (N, 4, H, W)"


def test_batchnorm_parameters_have_torch_names_shapes_and_initial_values():
    ours, theirs = nnlib.BatchNorm2d(5), torch.nn.BatchNorm2d(5, dtype=torch.float64)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for name in ("weight", "bias"):
        np.testing.assert_array_equal(getattr(ours, name).data, getattr(theirs, name).detach().numpy())
    np.testing.assert_array_equal(ours.running_mean, theirs.running_mean.numpy())
    np.testing.assert_array_equal(ours.running_var, theirs.running_var.numpy())
    assert (ours.eps, ours.momentum) == (theirs.eps, theirs.momentum)


@pytest.mark.parametrize("ours, theirs, extras", [(nnlib.Dropout, torch.nn.Dropout, {"rng"}),
                                                  (nnlib.BatchNorm2d, torch.nn.BatchNorm2d, set())],
                         ids=["Dropout", "BatchNorm2d"])
def test_constructor_arguments_order_and_defaults_match_torch(ours, theirs, extras):
    mine = inspect.signature(ours).parameters
    torch_params = inspect.signature(theirs).parameters
    names = [n for n in mine if n not in extras]
    assert names == [n for n in torch_params if n in names]
    for n in names:
        assert mine[n].default == torch_params[n].default, f"default of {n}"


@pytest.mark.parametrize("layer", [lambda: nnlib.Dropout(0.5, rng=0), lambda: nnlib.BatchNorm2d(2)],
                         ids=["Dropout", "BatchNorm2d"])
def test_backward_checks_before_forward_and_grad_shape(layer):
    with pytest.raises(RuntimeError, match="before forward"):
        layer().backward(np.zeros((2, 2, 3, 3)))
    m = layer()
    m.forward(np.ones((2, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"\(2, 2, 3, 3\).*\(2, 2, 3, 4\)"):
        m.backward(np.zeros((2, 2, 3, 4)))


def test_sequential_train_and_eval_reach_every_layer():
    model = nnlib.Sequential(nnlib.Conv2d(1, 2, 3, rng=0), nnlib.BatchNorm2d(2), nnlib.ReLU(),
                             nnlib.Flatten(), nnlib.Dropout(0.5, rng=0), nnlib.Linear(8, 2, rng=0))
    x = np.random.default_rng(1).standard_normal((4, 1, 4, 4))
    model.eval()
    assert not any(m.training for _, m in model.named_modules())
    np.testing.assert_array_equal(model.forward(x), model.forward(x))   # deterministic in eval
    model.train()
    assert not np.array_equal(model.forward(x), model.forward(x))       # dropout masks differ
