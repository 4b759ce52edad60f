"""Parameter, Module and Sequential: names, state dicts, gradients and modes, checked against torch.nn."""
import numpy as np
import pytest
import torch

import nnlib

pytestmark = pytest.mark.unit01


# -- equivalent models in both libraries -----------------------------------

def nn_mlp(rng=0):
    return nnlib.Sequential(nnlib.Linear(3, 5, rng=rng), nnlib.Tanh(), nnlib.Linear(5, 2, rng=rng + 1))


def torch_mlp():
    return torch.nn.Sequential(torch.nn.Linear(3, 5, dtype=torch.float64), torch.nn.Tanh(),
                               torch.nn.Linear(5, 2, dtype=torch.float64))


def nn_nested():
    return nnlib.Sequential(
        nnlib.Linear(4, 6, rng=1),
        nnlib.Sequential(nnlib.ReLU(), nnlib.Linear(6, 3, bias=False, rng=2)),
        nnlib.Sigmoid(),
        nnlib.Linear(3, 2, rng=3),
    )


def torch_nested():
    f64 = dict(dtype=torch.float64)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 6, **f64),
        torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(6, 3, bias=False, **f64)),
        torch.nn.Sigmoid(),
        torch.nn.Linear(3, 2, **f64),
    )


class NnScaledHead(nnlib.Module):
    """A child module assigned *before* an own parameter: torch still lists own parameters first."""

    def __init__(self):
        super().__init__()
        self.encoder = nnlib.Sequential(nnlib.Linear(3, 4, rng=0), nnlib.ReLU())
        self.scale = nnlib.Parameter(np.ones(4))
        self.head = nnlib.Linear(4, 2, rng=1)

    def forward(self, x):
        return self.head.forward(self.encoder.forward(x) * self.scale.data)


class TorchScaledHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(3, 4, dtype=torch.float64), torch.nn.ReLU())
        self.scale = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
        self.head = torch.nn.Linear(4, 2, dtype=torch.float64)

    def forward(self, x):
        return self.head(self.encoder(x) * self.scale)


PAIRS = {
    "mlp": (nn_mlp, torch_mlp, 3),
    "nested": (nn_nested, torch_nested, 4),
    "custom": (NnScaledHead, TorchScaledHead, 3),
}


def torch_out(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


# -- Parameter ------------------------------------------------------------

def test_parameter_stores_float64_copy_and_zero_grad_of_same_shape():
    assert nnlib.Parameter(np.arange(3, dtype=np.int32)).data.dtype == np.float64
    source = np.arange(6, dtype=np.float64).reshape(2, 3)
    p = nnlib.Parameter(source)
    assert p.shape == (2, 3)
    assert p.grad.shape == (2, 3) and not p.grad.any()
    source[0, 0] = 100
    assert p.data[0, 0] == 0, "Parameter must copy its initial value, not alias it"
    assert repr(p) == "Parameter(shape=(2, 3))"


# -- names ----------------------------------------------------------------

@pytest.mark.parametrize("pair", PAIRS)
def test_named_parameters_order_names_and_shapes_equal_torch(pair):
    make_nn, make_torch, _ = PAIRS[pair]
    ours = [(name, p.shape) for name, p in make_nn().named_parameters()]
    theirs = [(name, tuple(p.shape)) for name, p in make_torch().named_parameters()]
    assert ours == theirs


@pytest.mark.parametrize("pair", PAIRS)
def test_state_dict_keys_equal_torch_and_parameters_follow_named_parameters(pair):
    make_nn, make_torch, _ = PAIRS[pair]
    model = make_nn()
    assert list(model.state_dict()) == list(make_torch().state_dict())
    assert [id(p) for p in model.parameters()] == [id(p) for _, p in model.named_parameters()]


def test_named_modules_gives_torch_dotted_names():
    ours = [name for name, _ in nn_nested().named_modules()]
    theirs = [name for name, _ in torch_nested().named_modules()]
    assert ours == theirs


def test_reassigning_a_parameter_to_none_unregisters_it():
    lin = nnlib.Linear(3, 2, rng=0)
    lin.bias = None
    assert [name for name, _ in lin.named_parameters()] == ["weight"]


def test_assigning_before_super_init_raises():
    class Forgetful(nnlib.Module):
        def __init__(self):
            self.lin = nnlib.Linear(2, 2)

    with pytest.raises(RuntimeError, match=r"super\(\)\.__init__\(\)"):
        Forgetful()


def test_sequential_rejects_non_modules_and_indexes_like_a_list():
    with pytest.raises(TypeError, match="position 1"):
        nnlib.Sequential(nnlib.ReLU(), lambda x: x)
    seq = nn_mlp()
    assert len(seq) == 3
    assert isinstance(seq[1], nnlib.Tanh) and seq[-1] is seq[2]
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear"]


def test_base_module_forward_and_backward_are_abstract():
    with pytest.raises(NotImplementedError):
        nnlib.Module().forward(np.zeros(2))
    with pytest.raises(NotImplementedError):
        nnlib.Module().backward(np.zeros(2))


# -- state dict round trips -----------------------------------------------

@pytest.mark.parametrize("pair", PAIRS)
def test_state_dict_nnlib_to_torch_gives_equal_outputs(pair):
    make_nn, make_torch, d_in = PAIRS[pair]
    ours, theirs = make_nn(), make_torch()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((7, d_in))
    np.testing.assert_allclose(ours.forward(x), torch_out(theirs, x), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("pair", PAIRS)
def test_state_dict_torch_to_nnlib_accepts_tensors_and_gives_equal_outputs(pair):
    make_nn, make_torch, d_in = PAIRS[pair]
    ours, theirs = make_nn(), make_torch()
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(1).standard_normal((7, d_in))
    np.testing.assert_allclose(ours.forward(x), torch_out(theirs, x), rtol=1e-12, atol=1e-14)


def test_load_state_dict_accepts_float32_tensors_and_stores_float64():
    theirs = torch.nn.Linear(3, 2)  # float32
    ours = nnlib.Linear(3, 2)
    ours.load_state_dict(theirs.state_dict())
    assert ours.weight.data.dtype == np.float64
    np.testing.assert_array_equal(ours.weight.data, theirs.weight.detach().numpy().astype(np.float64))


def test_state_dict_returns_copies():
    model = nn_mlp()
    sd = model.state_dict()
    sd["0.weight"][...] = 123.0
    assert not np.any(model[0].weight.data == 123.0)


def test_load_state_dict_copies_values_in_place():
    model = nn_mlp(rng=0)
    weight = model[0].weight
    values = nn_mlp(rng=5).state_dict()
    model.load_state_dict(values)
    assert model[0].weight is weight
    values["0.weight"][...] = 0.0
    assert model[0].weight.data.any(), "load_state_dict must copy, not alias, the given arrays"


def test_load_state_dict_strict_names_missing_key():
    sd = nn_mlp().state_dict()
    del sd["2.bias"]
    with pytest.raises(KeyError, match=r"missing keys \['2.bias'\]"):
        nn_mlp().load_state_dict(sd)


def test_load_state_dict_strict_names_unexpected_key():
    sd = nn_mlp().state_dict()
    sd["3.weight"] = np.zeros((2, 2))
    with pytest.raises(KeyError, match=r"unexpected keys \['3.weight'\]"):
        nn_mlp().load_state_dict(sd)


def test_load_state_dict_non_strict_loads_known_keys_and_ignores_the_rest():
    model = nn_mlp(rng=0)
    untouched = model[2].bias.data.copy()
    sd = nn_mlp(rng=7).state_dict()
    del sd["2.bias"]
    sd["extra.weight"] = np.zeros(3)
    model.load_state_dict(sd, strict=False)
    np.testing.assert_array_equal(model[0].weight.data, sd["0.weight"])
    np.testing.assert_array_equal(model[2].bias.data, untouched)


def test_load_state_dict_shape_mismatch_names_both_shapes():
    model = nn_mlp()
    sd = model.state_dict()
    sd["0.weight"] = np.zeros((3, 5))  # transposed: expected (5, 3)
    with pytest.raises(ValueError) as err:
        model.load_state_dict(sd)
    message = str(err.value)
    assert "0.weight" in message and "(5, 3)" in message and "(3, 5)" in message


# -- gradients ------------------------------------------------------------

def test_zero_grad_clears_every_parameter_gradient():
    model = nn_nested()
    x = np.random.default_rng(0).standard_normal((5, 4))
    model.backward(np.ones_like(model.forward(x)))
    assert all(p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters())


def test_gradients_accumulate_over_two_backward_calls_as_in_torch():
    ours, theirs = nn_nested(), torch_nested()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(3)
    for batch in range(2):
        x = rng.standard_normal((4 + batch, 4))
        dout = rng.standard_normal((4 + batch, 2))
        ours.forward(x)
        ours.backward(dout)
        (theirs(torch.from_numpy(x)) * torch.from_numpy(dout)).sum().backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-13, err_msg=name)


def test_second_backward_adds_exactly_the_first_gradient_again():
    model = nn_mlp()
    x = np.random.default_rng(0).standard_normal((6, 3))
    dout = np.random.default_rng(1).standard_normal((6, 2))
    model.forward(x)
    model.backward(dout)
    once = [p.grad.copy() for p in model.parameters()]
    model.forward(x)
    model.backward(dout)
    for g1, p in zip(once, model.parameters()):
        np.testing.assert_allclose(p.grad, 2 * g1, rtol=1e-14)


# -- modes and printing ---------------------------------------------------

def test_train_and_eval_propagate_to_every_descendant():
    model = nn_nested()
    assert all(m.training for _, m in model.named_modules())
    assert model.eval() is model
    assert not any(m.training for _, m in model.named_modules())
    assert model.train() is model
    assert all(m.training for _, m in model.named_modules())
    model.train(False)
    assert not model[1][1].training


def test_repr_shows_extra_repr_and_equals_torch_repr():
    ours = nnlib.Sequential(nnlib.Linear(3, 4), nnlib.Sigmoid(), nnlib.LeakyReLU(0.2), nnlib.ELU(0.5),
                            nnlib.Softplus(2.0, 5.0), nnlib.Sequential(nnlib.Tanh(), nnlib.ReLU()),
                            nnlib.Linear(4, 1, bias=False))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Sigmoid(), torch.nn.LeakyReLU(0.2),
                                 torch.nn.ELU(0.5), torch.nn.Softplus(2.0, 5.0),
                                 torch.nn.Sequential(torch.nn.Tanh(), torch.nn.ReLU()),
                                 torch.nn.Linear(4, 1, bias=False))
    assert "(0): Linear(in_features=3, out_features=4, bias=True)" in repr(ours)
    assert repr(ours) == repr(theirs)
