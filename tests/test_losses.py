"""MSELoss, BCEWithLogitsLoss and CrossEntropyLoss: values and gradients against torch in float64."""
import inspect

import numpy as np
import pytest
import torch

import nnlib

pytestmark = pytest.mark.unit01

RTOL, ATOL = 1e-10, 1e-13


def torch_loss_and_grad(loss, x, target):
    """torch's loss value and d loss / d input."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    value = loss(xt, torch.from_numpy(target))
    value.backward()
    return value.item(), xt.grad.numpy()


def shape_grid(count=5, seed=3):
    rng = np.random.default_rng(seed)
    return [tuple(int(n) for n in rng.integers(1, 6, size=1 + i % 3)) for i in range(count)]


def class_grid(count=5, seed=4):
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(1, 9)), int(rng.integers(2, 7))) for _ in range(count)]


REDUCTIONS = ["mean", "sum"]


# -- against torch ----------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", shape_grid(), ids=str)
def test_mse_loss_value_and_gradient_match_torch(shape, reduction):
    rng = np.random.default_rng(sum(shape))
    x, t = rng.standard_normal(shape), rng.standard_normal(shape)
    ours = nnlib.MSELoss(reduction=reduction)
    value, grad = ours.forward(x, t), ours.backward()
    t_value, t_grad = torch_loss_and_grad(torch.nn.MSELoss(reduction=reduction), x, t)
    assert isinstance(value, float)
    np.testing.assert_allclose(value, t_value, rtol=RTOL)
    np.testing.assert_allclose(grad, t_grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", shape_grid(), ids=str)
def test_bce_with_logits_value_and_gradient_match_torch(shape, reduction):
    rng = np.random.default_rng(sum(shape) + 100)
    x = 3.0 * rng.standard_normal(shape)
    t = rng.uniform(0.0, 1.0, shape)          # soft targets in [0, 1] ...
    t.flat[::2] = rng.integers(0, 2, t.flat[::2].shape)  # ... and hard 0/1 ones
    ours = nnlib.BCEWithLogitsLoss(reduction=reduction)
    value, grad = ours.forward(x, t), ours.backward()
    t_value, t_grad = torch_loss_and_grad(torch.nn.BCEWithLogitsLoss(reduction=reduction), x, t)
    np.testing.assert_allclose(value, t_value, rtol=RTOL)
    np.testing.assert_allclose(grad, t_grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n, c", class_grid(), ids=lambda v: str(v))
def test_cross_entropy_value_and_gradient_match_torch(n, c, reduction):
    rng = np.random.default_rng(10 * n + c)
    z = 3.0 * rng.standard_normal((n, c))
    y = rng.integers(0, c, n)
    ours = nnlib.CrossEntropyLoss(reduction=reduction)
    value, grad = ours.forward(z, y), ours.backward()
    t_value, t_grad = torch_loss_and_grad(torch.nn.CrossEntropyLoss(reduction=reduction), z, y)
    np.testing.assert_allclose(value, t_value, rtol=RTOL)
    np.testing.assert_allclose(grad, t_grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("make_loss, make_input", [
    (nnlib.MSELoss, lambda rng: (rng.standard_normal((3, 2)), rng.standard_normal((3, 2)))),
    (nnlib.BCEWithLogitsLoss, lambda rng: (rng.standard_normal((4,)), rng.uniform(0, 1, 4))),
    (nnlib.CrossEntropyLoss, lambda rng: (rng.standard_normal((4, 3)), rng.integers(0, 3, 4))),
], ids=["MSELoss", "BCEWithLogitsLoss", "CrossEntropyLoss"])
def test_loss_backward_matches_numerical_gradient(make_loss, make_input):
    x, t = make_input(np.random.default_rng(0))
    loss = make_loss()
    loss.forward(x, t)
    grad = loss.backward()
    numeric = nnlib.numerical_gradient(lambda: make_loss().forward(x, t), x)
    assert nnlib.rel_error(grad, numeric) < 1e-8


# -- stability --------------------------------------------------------------

@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_huge_logits_is_finite_and_equals_torch(reduction):
    rng = np.random.default_rng(1)
    z = 1e4 * rng.standard_normal((6, 4))
    z[0] = [1e4, -1e4, 1e4, 0.0]
    y = np.array([1, 0, 1, 2, 3, 0])
    ours = nnlib.CrossEntropyLoss(reduction=reduction)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value, grad = ours.forward(z, y), ours.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    t_value, t_grad = torch_loss_and_grad(torch.nn.CrossEntropyLoss(reduction=reduction), z, y)
    np.testing.assert_allclose(value, t_value, rtol=RTOL)
    np.testing.assert_allclose(grad, t_grad, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_huge_logits_is_finite_and_equals_torch(reduction):
    x = np.array([1e4, -1e4, 1e4, -1e4, 5e3])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    ours = nnlib.BCEWithLogitsLoss(reduction=reduction)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value, grad = ours.forward(x, t), ours.backward()
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    t_value, t_grad = torch_loss_and_grad(torch.nn.BCEWithLogitsLoss(reduction=reduction), x, t)
    np.testing.assert_allclose(value, t_value, rtol=RTOL)
    np.testing.assert_allclose(grad, t_grad, rtol=RTOL, atol=ATOL)


def test_softmax_and_log_softmax_are_stable_and_normalised():
    z = np.array([[1e4, 1e4 - 1.0, -1e4], [0.0, 0.0, 0.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        p, logp = nnlib.softmax(z), nnlib.log_softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(logp, torch.log_softmax(torch.from_numpy(z), dim=1).numpy(), rtol=1e-14)
    np.testing.assert_allclose(nnlib.softmax(z, axis=0), torch.softmax(torch.from_numpy(z), dim=0).numpy(),
                               rtol=1e-14)


# -- hand cases -------------------------------------------------------------

@pytest.mark.parametrize("c", [2, 3, 10])
def test_cross_entropy_of_uniform_logits_is_log_c(c):
    loss = nnlib.CrossEntropyLoss()
    assert loss.forward(np.full((4, c), 7.0), np.arange(4) % c) == pytest.approx(np.log(c), rel=1e-14)
    grad = loss.backward()
    expected = np.full((4, c), 1.0 / c)
    expected[np.arange(4), np.arange(4) % c] -= 1.0
    np.testing.assert_allclose(grad, expected / 4, rtol=1e-14)


def test_mse_by_hand():
    loss = nnlib.MSELoss()
    assert loss.forward(np.array([1.0, 2.0]), np.array([0.0, 0.0])) == 2.5
    np.testing.assert_array_equal(loss.backward(), [1.0, 2.0])  # 2 (x - t) / 2
    assert nnlib.MSELoss(reduction="sum").forward(np.array([1.0, 2.0]), np.zeros(2)) == 5.0


def test_bce_with_zero_logit_is_log_two():
    loss = nnlib.BCEWithLogitsLoss()
    assert loss.forward(np.zeros(4), np.array([0.0, 1.0, 0.5, 1.0])) == pytest.approx(np.log(2), rel=1e-15)
    np.testing.assert_allclose(loss.backward(), [0.125, -0.125, 0.0, -0.125], rtol=1e-15)  # (σ(0) - t) / 4


def test_cross_entropy_of_a_confident_correct_prediction_is_near_zero():
    loss = nnlib.CrossEntropyLoss()
    assert loss.forward(np.array([[50.0, 0.0, 0.0]]), np.array([0])) < 1e-20
    assert loss.forward(np.array([[0.0, 50.0, 0.0]]), np.array([0])) == pytest.approx(50.0, rel=1e-12)


def test_cross_entropy_accepts_integer_valued_float_targets():
    z = np.random.default_rng(0).standard_normal((3, 4))
    a = nnlib.CrossEntropyLoss().forward(z, np.array([0, 3, 1]))
    assert nnlib.CrossEntropyLoss().forward(z, np.array([0.0, 3.0, 1.0])) == a


# -- validation -------------------------------------------------------------

@pytest.mark.parametrize("make_loss", [nnlib.MSELoss, nnlib.BCEWithLogitsLoss], ids=lambda f: f.__name__)
def test_elementwise_loss_target_of_wrong_shape_names_both_shapes(make_loss):
    with pytest.raises(ValueError) as err:
        make_loss()(np.zeros((4, 1)), np.zeros(4))
    assert "(4, 1)" in str(err.value) and "(4,)" in str(err.value)


def test_cross_entropy_target_of_wrong_shape_raises():
    with pytest.raises(ValueError) as err:
        nnlib.CrossEntropyLoss()(np.zeros((4, 3)), np.zeros((4, 1), dtype=np.int64))
    assert "(4,)" in str(err.value) and "(4, 1)" in str(err.value)


@pytest.mark.parametrize("bad_class", [3, 7, -1])
def test_cross_entropy_out_of_range_class_raises_naming_it(bad_class):
    with pytest.raises(ValueError, match=rf"class {bad_class}\b.*\[0, 3\)"):
        nnlib.CrossEntropyLoss()(np.zeros((4, 3)), np.array([0, 1, bad_class, 2]))


@pytest.mark.parametrize("shape", [(6,), (2, 3, 4)], ids=str)
def test_cross_entropy_input_not_two_dimensional_raises(shape):
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        nnlib.CrossEntropyLoss()(np.zeros(shape), np.zeros(shape[0], dtype=np.int64))


def test_cross_entropy_non_integer_target_raises():
    with pytest.raises(ValueError, match="integer"):
        nnlib.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0.5, 1.0]))


@pytest.mark.parametrize("make_loss", [nnlib.MSELoss, nnlib.BCEWithLogitsLoss, nnlib.CrossEntropyLoss],
                         ids=lambda f: f.__name__)
def test_loss_rejects_unknown_reduction_and_backward_before_forward(make_loss):
    with pytest.raises(ValueError, match="reduction"):
        make_loss(reduction="none")
    with pytest.raises(RuntimeError, match="before forward"):
        make_loss().backward()


@pytest.mark.parametrize("ours, theirs", [
    (nnlib.MSELoss, torch.nn.MSELoss),
    (nnlib.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss),
    (nnlib.CrossEntropyLoss, torch.nn.CrossEntropyLoss),
], ids=["MSELoss", "BCEWithLogitsLoss", "CrossEntropyLoss"])
def test_loss_arguments_and_defaults_match_torch(ours, theirs):
    mine = inspect.signature(ours).parameters
    torch_params = inspect.signature(theirs).parameters
    assert list(mine) == ["reduction"]
    assert mine["reduction"].default == torch_params["reduction"].default == "mean"
    assert repr(ours()) == f"{ours.__name__}(reduction='mean')"
