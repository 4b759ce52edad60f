"""Linear, the activations and Sequential: forward and backward against two oracles.

Oracle 1 is torch autograd in float64 through the fake loss (out * dout).sum(),
whose gradient with respect to out is exactly dout; oracle 2 is central
differences (nnlib.check_module_backward, nnlib.numerical_gradient). Each
layer also has one case small enough to compute by hand.
"""
import inspect

import numpy as np
import pytest
import torch

import nnlib
import torch_oracle
from torch_oracle import copy_into_torch

pytestmark = pytest.mark.unit01

RTOL, ATOL = 1e-10, 1e-12
NUMERIC_TOL = 1e-7


def assert_same_as_torch(ours, theirs, x, dout):
    torch_oracle.assert_same_as_torch(ours, theirs, x, dout, RTOL, ATOL)


# -- seeded shape grids -----------------------------------------------------

def linear_cases(count=10, seed=2024):
    """(leading dims, D_in, D_out, bias): leading dims from none (a single row) to three."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        lead = tuple(int(n) for n in rng.integers(1, 5, size=i % 4))
        cases.append((lead, int(rng.integers(1, 8)), int(rng.integers(1, 8)), bool(i % 3)))
    return cases


def activation_shapes(count=4, seed=7):
    rng = np.random.default_rng(seed)
    return [tuple(int(n) for n in rng.integers(1, 6, size=1 + i % 4)) for i in range(count)]


LINEAR_CASES = linear_cases()
SHAPES = activation_shapes()

ACTIVATIONS = {
    "Sigmoid": (nnlib.Sigmoid, torch.nn.Sigmoid),
    "Tanh": (nnlib.Tanh, torch.nn.Tanh),
    "ReLU": (nnlib.ReLU, torch.nn.ReLU),
    "LeakyReLU()": (nnlib.LeakyReLU, torch.nn.LeakyReLU),
    "LeakyReLU(0.2)": (lambda: nnlib.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    "LeakyReLU(0)": (lambda: nnlib.LeakyReLU(0.0), lambda: torch.nn.LeakyReLU(0.0)),
    "LeakyReLU(1.5)": (lambda: nnlib.LeakyReLU(1.5), lambda: torch.nn.LeakyReLU(1.5)),
    "ELU()": (nnlib.ELU, torch.nn.ELU),
    "ELU(0.3)": (lambda: nnlib.ELU(0.3), lambda: torch.nn.ELU(0.3)),
    "ELU(2.5)": (lambda: nnlib.ELU(2.5), lambda: torch.nn.ELU(2.5)),
    "Softplus()": (nnlib.Softplus, torch.nn.Softplus),
    "Softplus(2, 5)": (lambda: nnlib.Softplus(2.0, 5.0), lambda: torch.nn.Softplus(2.0, 5.0)),
    "Softplus(0.5, 1)": (lambda: nnlib.Softplus(0.5, 1.0), lambda: torch.nn.Softplus(0.5, 1.0)),
}


def lid(case):
    lead, d_in, d_out, bias = case
    return f"x{lead + (d_in,)}-out{d_out}-{'bias' if bias else 'nobias'}"


# -- Linear -----------------------------------------------------------------

@pytest.mark.parametrize("case", LINEAR_CASES, ids=lid)
def test_linear_forward_and_backward_match_torch(case):
    lead, d_in, d_out, bias = case
    rng = np.random.default_rng([d_in, d_out, *lead])
    ours = nnlib.Linear(d_in, d_out, bias=bias, rng=rng)
    theirs = copy_into_torch(ours, torch.nn.Linear(d_in, d_out, bias=bias, dtype=torch.float64))
    x = rng.standard_normal(lead + (d_in,))
    dout = rng.standard_normal(lead + (d_out,))
    assert_same_as_torch(ours, theirs, x, dout)


@pytest.mark.parametrize("case", LINEAR_CASES[:6], ids=lid)
def test_linear_backward_matches_numerical_gradients(case):
    lead, d_in, d_out, bias = case
    lin = nnlib.Linear(d_in, d_out, bias=bias, rng=1)
    x = np.random.default_rng(2).standard_normal(lead + (d_in,))
    errors = nnlib.check_module_backward(lin, x, rng=3)
    assert set(errors) == {"input", "weight"} | ({"bias"} if bias else set())
    assert max(errors.values()) < NUMERIC_TOL, errors


def test_linear_with_identity_weight_by_hand():
    lin = nnlib.Linear(2, 2)
    lin.weight.data[...] = np.eye(2)
    lin.bias.data[...] = [10.0, 20.0]
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(lin.forward(x), [[11.0, 22.0], [13.0, 24.0]])
    dx = lin.backward(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_array_equal(dx, [[1.0, 0.0], [0.0, 1.0]])            # grad_out @ I
    np.testing.assert_array_equal(lin.weight.grad, [[1.0, 2.0], [3.0, 4.0]])  # grad_out^T @ x
    np.testing.assert_array_equal(lin.bias.grad, [1.0, 1.0])               # column sums of grad_out


def test_linear_without_bias_has_only_a_weight_and_no_offset():
    lin = nnlib.Linear(3, 2, bias=False, rng=0)
    assert lin.bias is None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(lin.forward(np.zeros((4, 3))), np.zeros((4, 2)))


def test_linear_does_not_modify_its_input():
    lin = nnlib.Linear(3, 2, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 3))
    before = x.copy()
    lin.forward(x)
    lin.backward(np.ones((4, 2)))
    np.testing.assert_array_equal(x, before)


def test_linear_initialisation_within_one_over_sqrt_in_features():
    d_in = 50
    lin = nnlib.Linear(d_in, 400, rng=0)
    k = 1 / np.sqrt(d_in)
    w, b = lin.weight.data, lin.bias.data
    assert lin.weight.shape == (400, d_in) and lin.bias.shape == (400,)
    assert np.abs(w).max() <= k and np.abs(b).max() <= k
    assert np.abs(w).max() > 0.99 * k, "weights should fill U(-k, k), not a narrower range"
    assert abs(w.std() - k / np.sqrt(3)) < 0.03 * k, "std of U(-k, k) is k/sqrt(3)"
    assert abs(w.mean()) < 0.02 * k


def test_linear_initialisation_is_reproducible_from_rng():
    a, b, c = nnlib.Linear(4, 3, rng=5), nnlib.Linear(4, 3, rng=5), nnlib.Linear(4, 3, rng=6)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)
    c.reset_parameters(5)
    np.testing.assert_array_equal(a.weight.data, c.weight.data)
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(nnlib.Linear(4, 3, rng=g1).weight.data,
                                  nnlib.Linear(4, 3, rng=g2).weight.data)


# -- activations ------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_forward_and_backward_match_torch(name, shape):
    make_ours, make_theirs = ACTIVATIONS[name]
    rng = np.random.default_rng(len(shape) * 101 + sum(shape))
    x = 4.0 * rng.standard_normal(shape)
    x.flat[::5] = 0.0  # the kink of ReLU, LeakyReLU and ELU: derivative there as in torch
    dout = rng.standard_normal(shape)
    assert_same_as_torch(make_ours(), make_theirs(), x, dout)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_backward_matches_numerical_gradients(name):
    rng = np.random.default_rng(11)
    # away from the kinks at 0, where central differences are not a derivative
    x = rng.choice([-1.0, 1.0], size=(3, 4)) * rng.uniform(0.1, 3.0, size=(3, 4))
    errors = nnlib.check_module_backward(ACTIVATIONS[name][0](), x, rng=12)
    assert list(errors) == ["input"]
    assert errors["input"] < NUMERIC_TOL, errors


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 5.0), (0.5, 1.0), (3.0, 0.0)])
def test_softplus_beyond_threshold_is_linear_and_matches_torch(beta, threshold):
    x = np.concatenate([np.linspace(-40, 40, 161), [threshold / beta]])  # includes beta*x == threshold
    dout = np.random.default_rng(0).standard_normal(x.shape)
    ours = nnlib.Softplus(beta, threshold)
    assert_same_as_torch(ours, torch.nn.Softplus(beta, threshold), x, dout)
    beyond = beta * x > threshold
    np.testing.assert_array_equal(ours.forward(x)[beyond], x[beyond])
    np.testing.assert_array_equal(ours.backward(np.ones_like(x))[beyond], 1.0)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_is_finite_and_silent_on_extreme_inputs(name):
    make_ours, make_theirs = ACTIVATIONS[name]
    x = np.array([-1e300, -1e4, -800.0, -50.0, 50.0, 800.0, 1e4, 1e300])
    ours = make_ours()
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        out = ours.forward(x)
        dx = ours.backward(np.ones_like(x))
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    np.testing.assert_allclose(out, make_theirs()(torch.from_numpy(x)).numpy(), rtol=RTOL)


def test_sigmoid_by_hand():
    act = nnlib.Sigmoid()
    np.testing.assert_array_equal(act.forward(np.array([0.0])), [0.5])
    np.testing.assert_array_equal(act.backward(np.array([1.0])), [0.25])
    np.testing.assert_allclose(nnlib.sigmoid(np.log([3.0, 1 / 3])), [0.75, 0.25], rtol=1e-15)


def test_tanh_by_hand():
    act = nnlib.Tanh()
    np.testing.assert_array_equal(act.forward(np.array([0.0, 50.0, -50.0])), [0.0, 1.0, -1.0])
    np.testing.assert_array_equal(act.backward(np.array([2.0, 2.0, 2.0])), [2.0, 0.0, 0.0])


def test_relu_by_hand_with_zero_derivative_at_zero():
    act = nnlib.ReLU()
    np.testing.assert_array_equal(act.forward(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(act.backward(np.array([5.0, 5.0, 5.0])), [0.0, 0.0, 5.0])


def test_leaky_relu_by_hand_with_slope_at_zero():
    act = nnlib.LeakyReLU(0.1)
    np.testing.assert_allclose(act.forward(np.array([-2.0, 0.0, 3.0])), [-0.2, 0.0, 3.0], rtol=1e-15)
    np.testing.assert_allclose(act.backward(np.array([1.0, 1.0, 1.0])), [0.1, 0.1, 1.0], rtol=1e-15)


def test_elu_by_hand():
    act = nnlib.ELU(alpha=2.0)
    x = np.array([np.log(0.5), 0.0, 3.0, -1e3])
    np.testing.assert_allclose(act.forward(x), [-1.0, 0.0, 3.0, -2.0], rtol=1e-15)  # 2 (e^x - 1)
    np.testing.assert_allclose(act.backward(np.ones(4)), [1.0, 2.0, 1.0, 0.0], rtol=1e-15, atol=1e-300)


def test_softplus_by_hand():
    act = nnlib.Softplus(beta=2.0)
    np.testing.assert_allclose(act.forward(np.array([0.0, 30.0])), [np.log(2.0) / 2, 30.0], rtol=1e-15)
    np.testing.assert_allclose(act.backward(np.array([1.0, 1.0])), [0.5, 1.0], rtol=1e-15)


# -- Sequential -------------------------------------------------------------

def nn_and_torch_stack(d_in, rng):
    ours = nnlib.Sequential(
        nnlib.Linear(d_in, 6, rng=rng), nnlib.Tanh(), nnlib.Linear(6, 5, rng=rng), nnlib.LeakyReLU(0.1),
        nnlib.Linear(5, 5, bias=False, rng=rng), nnlib.ELU(0.7), nnlib.Linear(5, 4, rng=rng),
        nnlib.Softplus(1.5, 2.0), nnlib.Linear(4, 4, rng=rng), nnlib.Sigmoid(),
        nnlib.Sequential(nnlib.Linear(4, 3, rng=rng), nnlib.ReLU()),
    )
    f64 = dict(dtype=torch.float64)
    theirs = torch.nn.Sequential(
        torch.nn.Linear(d_in, 6, **f64), torch.nn.Tanh(), torch.nn.Linear(6, 5, **f64), torch.nn.LeakyReLU(0.1),
        torch.nn.Linear(5, 5, bias=False, **f64), torch.nn.ELU(0.7), torch.nn.Linear(5, 4, **f64),
        torch.nn.Softplus(1.5, 2.0), torch.nn.Linear(4, 4, **f64), torch.nn.Sigmoid(),
        torch.nn.Sequential(torch.nn.Linear(4, 3, **f64), torch.nn.ReLU()),
    )
    return ours, copy_into_torch(ours, theirs)


@pytest.mark.parametrize("lead, d_in", [((5,), 3), ((2, 3), 4), ((), 2), ((2, 1, 3), 1)], ids=str)
def test_sequential_forward_and_backward_match_torch(lead, d_in):
    rng = np.random.default_rng(len(lead) + d_in)
    ours, theirs = nn_and_torch_stack(d_in, rng)
    x = 2.0 * rng.standard_normal(lead + (d_in,))
    dout = rng.standard_normal(lead + (3,))
    assert_same_as_torch(ours, theirs, x, dout)


def test_sequential_backward_matches_numerical_gradients():
    rng = np.random.default_rng(4)
    ours, _ = nn_and_torch_stack(3, rng)
    x = rng.standard_normal((4, 3))
    errors = nnlib.check_module_backward(ours, x, rng=5)
    assert len(errors) == 1 + len(list(ours.parameters())) and "10.0.weight" in errors
    # eleven layers deep the finite-difference noise grows to ~1e-7; a wrong term gives ~1
    assert max(errors.values()) < 1e-6, errors


def test_sequential_input_gradient_matches_independent_numerical_gradient():
    rng = np.random.default_rng(6)
    model = nnlib.Sequential(nnlib.Linear(3, 4, rng=rng), nnlib.Tanh(), nnlib.Linear(4, 2, rng=rng))
    x = rng.standard_normal((5, 3))
    dout = rng.standard_normal((5, 2))
    model.forward(x)
    dx = model.backward(dout)
    numeric = nnlib.numerical_gradient(lambda: float(np.sum(model.forward(x) * dout)), x)
    np.testing.assert_allclose(dx, numeric, rtol=1e-7, atol=1e-9)


def test_sequential_by_hand():
    first, second = nnlib.Linear(1, 1), nnlib.Linear(1, 1)
    first.weight.data[...], first.bias.data[...] = 2.0, 1.0
    second.weight.data[...], second.bias.data[...] = 3.0, 0.0
    model = nnlib.Sequential(first, nnlib.ReLU(), second)
    np.testing.assert_array_equal(model.forward(np.array([[1.0], [-1.0]])), [[9.0], [0.0]])
    np.testing.assert_array_equal(model.backward(np.array([[1.0], [1.0]])), [[6.0], [0.0]])  # 3 * 1 * 2
    assert first.bias.grad[0] == 3.0 and second.weight.grad[0, 0] == 3.0


# -- torch's arguments and defaults ------------------------------------------

SIGNATURES = [
    (nnlib.Linear, torch.nn.Linear, {"rng"}),
    (nnlib.LeakyReLU, torch.nn.LeakyReLU, set()),
    (nnlib.ELU, torch.nn.ELU, set()),
    (nnlib.Softplus, torch.nn.Softplus, set()),
    (nnlib.ReLU, torch.nn.ReLU, set()),
]


@pytest.mark.parametrize("ours, theirs, extras", SIGNATURES, ids=lambda v: getattr(v, "__name__", ""))
def test_constructor_arguments_order_and_defaults_match_torch(ours, theirs, extras):
    mine = inspect.signature(ours).parameters
    torch_params = inspect.signature(theirs).parameters
    names = [n for n in mine if n not in extras]
    assert set(names) <= set(torch_params), f"arguments torch does not have: {set(names) - set(torch_params)}"
    assert names == [n for n in torch_params if n in names], "shared arguments in a different order than torch"
    for n in names:
        assert mine[n].default == torch_params[n].default, f"default of {n}"


@pytest.mark.parametrize("ours, theirs, attrs", [
    (lambda: nnlib.Linear(3, 2), lambda: torch.nn.Linear(3, 2), ["in_features", "out_features"]),
    (nnlib.LeakyReLU, torch.nn.LeakyReLU, ["negative_slope"]),
    (nnlib.ELU, torch.nn.ELU, ["alpha"]),
    (nnlib.Softplus, torch.nn.Softplus, ["beta", "threshold"]),
], ids=["Linear", "LeakyReLU", "ELU", "Softplus"])
def test_hyperparameter_attributes_have_torch_names_and_values(ours, theirs, attrs):
    a, b = ours(), theirs()
    for attr in attrs:
        assert getattr(a, attr) == getattr(b, attr), attr


# -- errors -----------------------------------------------------------------

@pytest.mark.parametrize("shape, received", [((8, 5), "(8, 5)"), ((5,), "(5,)"), ((2, 3, 6), "(2, 3, 6)")])
def test_linear_wrong_input_shape_names_expected_and_received(shape, received):
    with pytest.raises(ValueError) as err:
        nnlib.Linear(4, 3).forward(np.zeros(shape))
    assert received in str(err.value) and "(*, 4)" in str(err.value)


def test_linear_rejects_a_scalar_input():
    with pytest.raises(ValueError, match="scalar"):
        nnlib.Linear(1, 1).forward(3.0)


def test_sequential_wrong_shape_names_the_inner_layer_shapes():
    model = nnlib.Sequential(nnlib.Linear(4, 3), nnlib.ReLU(), nnlib.Linear(2, 1))
    with pytest.raises(ValueError) as err:
        model.forward(np.zeros((8, 4)))
    assert "(8, 3)" in str(err.value) and "(*, 2)" in str(err.value)


ALL_LAYERS = {"Linear": lambda: nnlib.Linear(3, 2), **{n: f for n, (f, _) in ACTIVATIONS.items()},
              "Sequential": lambda: nnlib.Sequential(nnlib.Linear(3, 2), nnlib.Tanh())}


@pytest.mark.parametrize("name", ALL_LAYERS)
def test_backward_before_forward_raises(name):
    with pytest.raises(RuntimeError, match="before forward"):
        ALL_LAYERS[name]().backward(np.zeros((4, 2)))


@pytest.mark.parametrize("name", ALL_LAYERS)
def test_grad_out_of_wrong_shape_names_expected_and_received(name):
    layer = ALL_LAYERS[name]()
    out = layer.forward(np.zeros((4, 3)))
    with pytest.raises(ValueError) as err:
        layer.backward(np.zeros((out.shape[0], out.shape[1] + 1)))
    received = f"({out.shape[0]}, {out.shape[1] + 1})"
    expected = f"({out.shape[0]}, {out.shape[1]})"
    assert received in str(err.value) and expected in str(err.value)
