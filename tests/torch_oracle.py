"""Torch autograd as the oracle for nnlib's numpy layers: shared by the layer tests.

Every layer is compared through the fake loss ``(out * dout).sum()``, whose
gradient with respect to ``out`` is exactly ``dout``: the backward pass
under test receives ``dout`` directly, torch gets it through autograd.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Pin torch to one thread for the test (two-core CI machines), then restore it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def torch_fake_loss(module, x, dout):
    """Forward x through a torch module, backpropagate (out * dout).sum(); return out, dx, {name: dparam}."""
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    out = module(xt)
    (out * torch.from_numpy(dout)).sum().backward()
    return out.detach().numpy(), xt.grad.numpy(), {n: p.grad.numpy() for n, p in module.named_parameters()}


def nnlib_fake_loss(module, x, dout):
    """The same for an nnlib module: its forward, then its backward with dout."""
    out = module.forward(x)
    dx = module.backward(dout)
    return out, dx, {n: p.grad for n, p in module.named_parameters()}


def assert_same_as_torch(ours, theirs, x, dout, rtol: float, atol: float) -> None:
    """Output, input gradient and every parameter gradient (same names, same order) equal torch's.

    ``dout`` may be a ``numpy.random.Generator``: the upstream gradient is then
    drawn from it once the output's shape is known.
    """
    if isinstance(dout, np.random.Generator):
        rng = dout
        dout = rng.standard_normal(ours.forward(x).shape)
    out, dx, dparams = nnlib_fake_loss(ours, x, dout)
    t_out, t_dx, t_dparams = torch_fake_loss(theirs, x, dout)
    np.testing.assert_allclose(out, t_out, rtol=rtol, atol=atol, err_msg="forward output")
    np.testing.assert_allclose(dx, t_dx, rtol=rtol, atol=atol, err_msg="gradient w.r.t. the input")
    assert list(dparams) == list(t_dparams), "parameter names or order differ from torch's"
    for name in dparams:
        np.testing.assert_allclose(dparams[name], t_dparams[name], rtol=rtol, atol=atol,
                                   err_msg=f"gradient w.r.t. {name}")


def copy_into_torch(ours, theirs):
    """Load the nnlib module's parameters into the torch module (same state_dict keys); return it."""
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return theirs
