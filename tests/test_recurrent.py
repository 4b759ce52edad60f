"""RNN, LSTM and GRU: forward and backpropagation through time against two oracles.

Oracle 1 is torch.nn.RNN/LSTM/GRU in float64 with the same state_dict, through
the fake loss (out * dout).sum() + (h_n * dh_n).sum() (+ (c_n * dc_n).sum()),
whose gradients with respect to the outputs are exactly dout, dh_n, dc_n.
Oracle 2 is central differences. Each layer also has a case small enough to
compute by hand, built by saturating gates with large biases.
"""
import numpy as np
import pytest
import torch

import nnlib

pytestmark = pytest.mark.unit04

RTOL, ATOL = 1e-10, 1e-12
NUMERIC_TOL = 1e-7
LAYERS = {"RNN": (nnlib.RNN, torch.nn.RNN), "LSTM": (nnlib.LSTM, torch.nn.LSTM), "GRU": (nnlib.GRU, torch.nn.GRU)}
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def cases(count=12, seed=404):
    """(T, N, D_in, H, bias, batch_first, with_h0) drawn from a seeded generator; both layouts."""
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(1, 7)), int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(1, 6)),
             bool(i % 3), bool(i % 2), bool(i % 4 < 2)) for i in range(count)]


CASES = cases()


def cid(case):
    T, N, D, H, bias, bf, h0 = case
    return f"T{T}-N{N}-D{D}-H{H}-{'bias' if bias else 'nobias'}-{'NTD' if bf else 'TND'}{'-h0' if h0 else ''}"


def make_pair(kind, D, H, bias=True, batch_first=False, seed=0):
    ours_cls, torch_cls = LAYERS[kind]
    ours = ours_cls(D, H, bias=bias, batch_first=batch_first, rng=seed)
    theirs = torch_cls(D, H, bias=bias, batch_first=batch_first, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def run_torch(theirs, kind, x, states, dout, dstates):
    """Forward and fake-loss backward in torch; return out, final states, dx, dstates0, {name: grad}."""
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states] if states else None
    out, final = theirs(xt, None if st is None else (tuple(st) if kind == "LSTM" else st[0]))
    final = list(final) if kind == "LSTM" else [final]
    loss = (out * torch.from_numpy(dout)).sum()
    for f, d in zip(final, dstates):
        loss = loss + (f * torch.from_numpy(d)).sum()
    loss.backward()
    return (out.detach().numpy(), [f.detach().numpy() for f in final], xt.grad.numpy(),
            [s.grad.numpy() for s in st] if st else None,
            {n: p.grad.numpy() for n, p in theirs.named_parameters()})


def run_nnlib(ours, kind, x, states, dout, dstates):
    h0 = None if not states else (tuple(states) if kind == "LSTM" else states[0])
    out = ours.forward(x, h0)
    final = [ours.h_n, ours.c_n] if kind == "LSTM" else [ours.h_n]
    dx = ours.backward(dout, tuple(dstates) if kind == "LSTM" else dstates[0])
    d0 = [ours.grad_h0, ours.grad_c0] if kind == "LSTM" else [ours.grad_h0]
    return out, final, dx, d0, {n: p.grad for n, p in ours.named_parameters()}


def close(got, want, what):
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL, err_msg=what)


# -- against torch ------------------------------------------------------------

@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("case", CASES, ids=cid)
def test_forward_and_bptt_match_torch(kind, case):
    T, N, D, H, bias, bf, with_h0 = case
    rng = np.random.default_rng([T, N, D, H, len(kind)])
    ours, theirs = make_pair(kind, D, H, bias, bf, seed=rng)
    x = rng.standard_normal((N, T, D) if bf else (T, N, D))
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((1, N, H)) for _ in range(n_states)] if with_h0 else None
    dout = rng.standard_normal((N, T, H) if bf else (T, N, H))
    dstates = [rng.standard_normal((1, N, H)) for _ in range(n_states)]
    out, final, dx, d0, dparams = run_nnlib(ours, kind, x, states, dout, dstates)
    t_out, t_final, t_dx, t_d0, t_dparams = run_torch(theirs, kind, x, states, dout, dstates)
    close(out, t_out, "output sequence")
    for name, a, b in zip(("h_n", "c_n"), final, t_final):
        close(a, b, name)
    close(dx, t_dx, "gradient w.r.t. the input sequence")
    if with_h0:
        for name, a, b in zip(("h0", "c0"), d0, t_d0):
            close(a, b, f"gradient w.r.t. {name}")
    assert list(dparams) == list(t_dparams)
    for name in dparams:
        close(dparams[name], t_dparams[name], f"gradient w.r.t. {name}")


@pytest.mark.parametrize("kind", LAYERS)
def test_unbatched_input_matches_torch(kind):
    rng = np.random.default_rng(11)
    ours, theirs = make_pair(kind, 3, 4, seed=rng)
    x = rng.standard_normal((5, 3))
    dout = rng.standard_normal((5, 4))
    dstates = [np.zeros((1, 4))] * (2 if kind == "LSTM" else 1)
    out, final, dx, _, dparams = run_nnlib(ours, kind, x, None, dout, dstates)
    t_out, t_final, t_dx, _, t_dparams = run_torch(theirs, kind, x, None, dout, dstates)
    assert out.shape == (5, 4) and final[0].shape == (1, 4)
    close(out, t_out, "output")
    close(final[0], t_final[0], "h_n")
    close(dx, t_dx, "dx")
    for name in dparams:
        close(dparams[name], t_dparams[name], name)


def test_rnn_relu_nonlinearity_matches_torch():
    rng = np.random.default_rng(5)
    ours = nnlib.RNN(3, 4, nonlinearity="relu", rng=rng)
    theirs = torch.nn.RNN(3, 4, nonlinearity="relu", dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x, dout = rng.standard_normal((6, 2, 3)), rng.standard_normal((6, 2, 4))
    out, _, dx, _, dparams = run_nnlib(ours, "RNN", x, None, dout, [np.zeros((1, 2, 4))])
    t_out, _, t_dx, _, t_dparams = run_torch(theirs, "RNN", x, None, dout, [np.zeros((1, 2, 4))])
    assert (out == 0).any() and (out > 0).any(), "the case should exercise both sides of the ReLU"
    close(out, t_out, "output")
    close(dx, t_dx, "dx")
    for name in dparams:
        close(dparams[name], t_dparams[name], name)


@pytest.mark.parametrize("kind", LAYERS)
def test_parameter_names_shapes_and_torch_state_dict_load_directly(kind):
    ours_cls, torch_cls = LAYERS[kind]
    theirs = torch_cls(7, 5, dtype=torch.float64)
    ours = ours_cls(7, 5)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert ours.weight_ih_l0.shape == (GATES[kind] * 5, 7)
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 3, 7))
    close(ours.forward(x), theirs(torch.from_numpy(x))[0].detach().numpy(), "output after loading torch weights")
    assert [n for n, _ in ours_cls(7, 5, bias=False).named_parameters()] == \
           [n for n, _ in torch_cls(7, 5, bias=False).named_parameters()]


@pytest.mark.parametrize("kind", LAYERS)
def test_defaults_are_torchs(kind):
    m = LAYERS[kind][0](2, 3)
    t = LAYERS[kind][1](2, 3)
    assert (m.batch_first, m.bias, m.num_layers) == (t.batch_first, t.bias, t.num_layers) == (False, True, 1)


@pytest.mark.parametrize("kind", LAYERS)
def test_initialisation_is_uniform_within_one_over_sqrt_hidden(kind):
    m = LAYERS[kind][0](10, 64, rng=0)
    k = 1 / np.sqrt(64)
    for name, p in m.named_parameters():
        assert np.abs(p.data).max() <= k, name
        # U(-k, k) has standard deviation k/sqrt(3): the mean of `size` draws is within 4 of its standard errors
        assert np.abs(p.data).max() > 0.95 * k and abs(p.data.mean()) < 4 * k / np.sqrt(3 * p.data.size), name


# -- numerical gradients ------------------------------------------------------

@pytest.mark.parametrize("kind", LAYERS)
@pytest.mark.parametrize("batch_first", [False, True], ids=["TND", "NTD"])
def test_bptt_matches_numerical_gradients(kind, batch_first):
    m = LAYERS[kind][0](3, 4, batch_first=batch_first, rng=1)
    # weights larger than the default init, so the recurrent path carries a gradient worth checking
    for p in m.parameters():
        p.data *= 3.0
    x = np.random.default_rng(2).standard_normal((2, 5, 3) if batch_first else (5, 2, 3))
    errors = nnlib.check_module_backward(m, x, rng=3)
    assert set(errors) == {"input", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
    assert max(errors.values()) < NUMERIC_TOL, errors


@pytest.mark.parametrize("kind", LAYERS)
def test_initial_state_gradient_matches_numerical_gradient(kind):
    rng = np.random.default_rng(9)
    m = LAYERS[kind][0](2, 3, rng=rng)
    x = rng.standard_normal((4, 2, 2))
    states = [rng.standard_normal((1, 2, 3)) for _ in range(2 if kind == "LSTM" else 1)]
    dout = rng.standard_normal((4, 2, 3))

    def h0():
        return tuple(states) if kind == "LSTM" else states[0]

    def loss():
        return float(np.sum(m.forward(x, h0()) * dout))

    m.forward(x, h0())
    m.backward(dout)
    analytic = [m.grad_h0, m.grad_c0] if kind == "LSTM" else [m.grad_h0]
    for a, s in zip(analytic, states):
        assert nnlib.rel_error(a, nnlib.numerical_gradient(loss, s)) < NUMERIC_TOL


# -- by hand ------------------------------------------------------------------

def test_rnn_by_hand_with_scalar_weights():
    # h_t = tanh(2 x_t + 0.5 h_{t-1}), h_0 = 0
    m = nnlib.RNN(1, 1, bias=False)
    m.weight_ih_l0.data[...] = 2.0
    m.weight_hh_l0.data[...] = 0.5
    x = np.array([1.0, 0.0, -1.0]).reshape(3, 1, 1)
    h1 = np.tanh(2.0)
    h2 = np.tanh(0.5 * h1)
    h3 = np.tanh(-2.0 + 0.5 * h2)
    np.testing.assert_allclose(m.forward(x).ravel(), [h1, h2, h3], rtol=1e-14)
    # dL/dx_1 for L = h_3: through h_3 <- h_2 <- h_1 <- x_1
    dx = m.backward(np.array([0.0, 0.0, 1.0]).reshape(3, 1, 1))
    want = (1 - h3 ** 2) * 0.5 * (1 - h2 ** 2) * 0.5 * (1 - h1 ** 2) * 2.0
    np.testing.assert_allclose(dx[0, 0, 0], want, rtol=1e-12)


def saturated_lstm(b_i, b_f, b_o):
    """One unit, x feeds only the candidate g with weight 1; gates fixed by huge biases."""
    m = nnlib.LSTM(1, 1)
    for p in m.parameters():
        p.data[...] = 0.0
    m.weight_ih_l0.data[2, 0] = 1.0
    m.bias_ih_l0.data[[0, 1, 3]] = [b_i, b_f, b_o]
    return m


def test_lstm_with_open_forget_and_input_gates_sums_its_candidates():
    x = np.array([0.3, -0.2, 0.9, 0.4]).reshape(4, 1, 1)
    m = saturated_lstm(100.0, 100.0, 100.0)
    out = m.forward(x)
    cells = np.cumsum(np.tanh(x.ravel()))
    np.testing.assert_allclose(m.c_n.ravel(), [cells[-1]], rtol=1e-12)
    np.testing.assert_allclose(out.ravel(), np.tanh(cells), rtol=1e-12)


def test_lstm_with_closed_forget_gate_forgets_and_closed_output_gate_shows_nothing():
    x = np.array([0.3, -0.2, 0.9]).reshape(3, 1, 1)
    m = saturated_lstm(100.0, -100.0, 100.0)
    np.testing.assert_allclose(m.forward(x).ravel(), np.tanh(np.tanh(x.ravel())), rtol=1e-12)
    m = saturated_lstm(100.0, 100.0, -100.0)
    np.testing.assert_allclose(m.forward(x), 0.0, atol=1e-40)
    np.testing.assert_allclose(m.c_n.ravel(), [np.tanh(x).sum()], rtol=1e-12)


def test_gru_with_update_gate_shut_keeps_its_state_and_open_forgets_it():
    m = nnlib.GRU(1, 2)
    for p in m.parameters():
        p.data[...] = 0.0
    m.weight_ih_l0.data[4:, 0] = [1.0, -1.0]           # n = tanh(±x)
    x = np.array([0.5, -1.5, 2.0]).reshape(3, 1, 1)
    h0 = np.array([[[0.7, -0.3]]])
    m.bias_ih_l0.data[2:4] = 100.0                     # z = 1: h_t = h_{t-1}
    np.testing.assert_allclose(m.forward(x, h0), np.broadcast_to(h0, (3, 1, 2)), rtol=1e-12)
    m.bias_ih_l0.data[2:4] = -100.0                    # z = 0: h_t = n_t
    out = m.forward(x, h0)
    np.testing.assert_allclose(out[:, 0, 0], np.tanh(x.ravel()), rtol=1e-12)
    np.testing.assert_allclose(out[:, 0, 1], -np.tanh(x.ravel()), rtol=1e-12)


# -- behaviour and errors -----------------------------------------------------

@pytest.mark.parametrize("kind", LAYERS)
def test_gradients_accumulate_and_inputs_are_not_modified(kind):
    m = LAYERS[kind][0](3, 2, rng=0)
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 2))
    x0, d0 = x.copy(), dout.copy()
    m.forward(x)
    m.backward(dout)
    once = {n: p.grad.copy() for n, p in m.named_parameters()}
    m.forward(x)
    m.backward(dout)
    for n, p in m.named_parameters():
        np.testing.assert_allclose(p.grad, 2 * once[n], rtol=1e-12)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, d0)


@pytest.mark.parametrize("kind", LAYERS)
def test_wrong_input_shapes_say_what_was_expected(kind):
    cls = LAYERS[kind][0]
    with pytest.raises(ValueError, match=r"got input of shape \(5, 2, 4\); expected \(T, N, 3\)"):
        cls(3, 2).forward(np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match=r"expected \(N, T, 3\)"):
        cls(3, 2, batch_first=True).forward(np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match="num_layers=2"):
        cls(3, 2, 2)
    with pytest.raises(RuntimeError, match="before forward"):
        cls(3, 2).backward(np.zeros((5, 2, 2)))
    m = cls(3, 2)
    m.forward(np.zeros((5, 4, 3)))
    with pytest.raises(ValueError, match=r"grad_output of shape \(5, 4, 2\).*got \(4, 5, 2\)"):
        m.backward(np.zeros((4, 5, 2)))
    bad = np.zeros((1, 3, 2))
    with pytest.raises(ValueError, match=r"should have shape \(1, 4, 2\)"):
        m.forward(np.zeros((5, 4, 3)), (bad, bad) if kind == "LSTM" else bad)


def test_repr_reads_like_torch():
    assert repr(nnlib.LSTM(64, 128, batch_first=True)) == "LSTM(64, 128, batch_first=True)"
    assert repr(nnlib.GRU(3, 4, bias=False)) == "GRU(3, 4, bias=False)"
    assert repr(nnlib.RNN(3, 4, nonlinearity="relu")) == "RNN(3, 4, nonlinearity='relu')"


def test_recurrent_layer_composes_in_sequential_with_linear():
    rng = np.random.default_rng(0)
    net = nnlib.Sequential(nnlib.GRU(3, 4, batch_first=True, rng=rng), nnlib.Linear(4, 2, rng=rng))
    x = rng.standard_normal((2, 5, 3))
    errors = nnlib.check_module_backward(net, x, rng=1)
    assert max(errors.values()) < NUMERIC_TOL, errors
