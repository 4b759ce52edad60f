"""numerical_gradient, rel_error, check_module_backward and gradcheck: they must catch wrong backwards."""
import numpy as np
import pytest

import nnlib

pytestmark = pytest.mark.unit01


# -- numerical_gradient -----------------------------------------------------

def test_numerical_gradient_of_sum_of_cubes_is_three_x_squared():
    x = np.random.default_rng(0).standard_normal((3, 4))
    grad = nnlib.numerical_gradient(lambda: float(np.sum(x ** 3)), x)
    np.testing.assert_allclose(grad, 3 * x ** 2, rtol=1e-8, atol=1e-10)


def test_numerical_gradient_of_a_linear_function_is_its_coefficients():
    a = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 4.0]])
    x = np.random.default_rng(1).standard_normal((3, 2))
    np.testing.assert_allclose(nnlib.numerical_gradient(lambda: float(np.sum(a * x)), x), a, atol=1e-9)


def test_numerical_gradient_of_a_coupled_function():
    x = np.array([0.3, -1.2, 2.0])
    grad = nnlib.numerical_gradient(lambda: float(np.prod(x) + np.sin(x[0]) * x[2]), x)
    expected = [x[1] * x[2] + np.cos(x[0]) * x[2], x[0] * x[2], x[0] * x[1] + np.sin(x[0])]
    np.testing.assert_allclose(grad, expected, rtol=1e-8)


def test_numerical_gradient_restores_the_array_it_perturbs():
    x = np.random.default_rng(2).standard_normal(5)
    before = x.copy()
    nnlib.numerical_gradient(lambda: float(np.sum(np.exp(x))), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_error_shrinks_like_h_squared():
    x = np.array([0.7])
    exact = 3 * x[0] ** 2
    err = [abs(nnlib.numerical_gradient(lambda: float(x[0] ** 3), x, h=h)[0] - exact) for h in (1e-2, 1e-3)]
    assert err[1] / err[0] == pytest.approx(1e-2, rel=0.05)  # central differences: error = h^2 (f'''/6)


@pytest.mark.parametrize("x", [np.zeros(3, dtype=np.float32), [1.0, 2.0], np.arange(3)],
                         ids=["float32", "list", "int64"])
def test_numerical_gradient_rejects_what_it_cannot_perturb(x):
    with pytest.raises(TypeError, match="float64"):
        nnlib.numerical_gradient(lambda: 0.0, x)


# -- rel_error --------------------------------------------------------------

def test_rel_error_is_zero_for_equal_arrays_and_one_for_opposite():
    a = np.random.default_rng(3).standard_normal((2, 3))
    assert nnlib.rel_error(a, a.copy()) == 0.0
    assert nnlib.rel_error(a, -a) == pytest.approx(1.0)
    assert nnlib.rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_rel_error_is_scale_invariant_and_symmetric():
    a = np.array([1.0, 2.0, 3.0])
    b = a * (1 + 1e-6)
    assert nnlib.rel_error(a, b) == pytest.approx(nnlib.rel_error(1e6 * a, 1e6 * b), rel=1e-6)
    assert nnlib.rel_error(a, b) == nnlib.rel_error(b, a)
    assert nnlib.rel_error(a, b) == pytest.approx(3e-6 / (3 + 3 * (1 + 1e-6)), rel=1e-6)


def test_rel_error_of_different_shapes_raises():
    with pytest.raises(ValueError, match="shapes differ"):
        nnlib.rel_error(np.zeros(3), np.zeros((3, 1)))


# -- check_module_backward and gradcheck --------------------------------------

class LinearForgetsTranspose(nnlib.Linear):
    """Weight gradient x^T g instead of g^T x: the right shape only when D_in == D_out."""

    def backward(self, grad_out):
        dx = super().backward(grad_out)
        self.weight.grad[...] = self._x.T @ grad_out
        return dx


class LinearDropsBiasGrad(nnlib.Linear):
    def backward(self, grad_out):
        bias_before = self.bias.grad.copy()
        dx = super().backward(grad_out)
        self.bias.grad[...] = bias_before
        return dx


class LinearInputGradUntransposed(nnlib.Linear):
    """dL/dx = g W^T instead of g W (square layers only)."""

    def backward(self, grad_out):
        super().backward(grad_out)
        return grad_out @ self.weight.data.T


class TanhWithSigmoidDerivative(nnlib.Tanh):
    def _df(self, x, y):
        return y * (1.0 - y)


@pytest.mark.parametrize("make, shape", [
    (lambda: nnlib.Linear(4, 3, rng=0), (5, 4)),
    (lambda: nnlib.Linear(3, 2, bias=False, rng=0), (2, 2, 3)),
    (nnlib.Sigmoid, (3, 4)),
    (nnlib.Tanh, (6,)),
    (lambda: nnlib.Softplus(2.0), (3, 3)),
    (lambda: nnlib.Sequential(nnlib.Linear(3, 4, rng=1), nnlib.ELU(), nnlib.Linear(4, 2, rng=2)), (4, 3)),
], ids=["Linear", "Linear-nobias", "Sigmoid", "Tanh", "Softplus", "Sequential"])
def test_check_module_backward_is_small_for_correct_layers(make, shape):
    module = make()
    x = np.random.default_rng(4).standard_normal(shape)
    errors = nnlib.check_module_backward(module, x, rng=5)
    assert list(errors) == ["input"] + [n for n, _ in module.named_parameters()]
    assert max(errors.values()) < 1e-7, errors
    assert nnlib.gradcheck(module, x, rng=5) is None


@pytest.mark.parametrize("broken, bad", [
    (LinearForgetsTranspose, {"weight"}),
    (LinearDropsBiasGrad, {"bias"}),
    (LinearInputGradUntransposed, {"input"}),
], ids=["forgets_transpose", "drops_bias_grad", "input_grad_untransposed"])
def test_check_module_backward_flags_exactly_the_broken_gradient(broken, bad):
    layer = broken(4, 4, rng=0)
    x = np.random.default_rng(6).standard_normal((5, 4))
    errors = nnlib.check_module_backward(layer, x, rng=7)
    for name, err in errors.items():
        if name in bad:
            assert err > 1e-2, f"{name} is wrong but its error is only {err:.1e}"
        else:
            assert err < 1e-7, f"{name} is right but its error is {err:.1e}"


def test_check_module_backward_flags_a_wrong_activation_derivative():
    x = np.random.default_rng(8).standard_normal((3, 5))
    assert nnlib.check_module_backward(TanhWithSigmoidDerivative(), x, rng=9)["input"] > 1e-2


def test_check_module_backward_names_nested_parameters():
    model = nnlib.Sequential(nnlib.Linear(2, 4, rng=0), nnlib.Tanh(), LinearDropsBiasGrad(4, 4, rng=1))
    errors = nnlib.check_module_backward(model, np.random.default_rng(3).standard_normal((3, 2)), rng=4)
    assert errors["2.bias"] > 1e-2
    assert max(v for k, v in errors.items() if k != "2.bias") < 1e-7, errors


@pytest.mark.parametrize("broken, bad", [
    (LinearForgetsTranspose, "weight"),
    (LinearDropsBiasGrad, "bias"),
    (LinearInputGradUntransposed, "input"),
], ids=["forgets_transpose", "drops_bias_grad", "input_grad_untransposed"])
def test_gradcheck_raises_naming_only_the_bad_gradient(broken, bad):
    x = np.random.default_rng(10).standard_normal((3, 4))
    with pytest.raises(AssertionError) as err:
        nnlib.gradcheck(broken(4, 4, rng=0), x, rng=11)
    listed = str(err.value).split(" for ", 1)[1]  # the module's repr comes first and mentions bias=True
    assert listed.startswith(f"{bad}: ")
    for correct in {"input", "weight", "bias"} - {bad}:
        assert correct not in listed, f"gradcheck blames {correct}, which is right: {err.value}"
