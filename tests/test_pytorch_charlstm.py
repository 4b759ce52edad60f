"""The character model of the PyTorch path: CharLSTM, its per-step twin LSTMCellLoop, the text corpus.

Oracles: the two models must compute the same function and gradients from
the same weights (nn.LSTM vs nn.LSTMCell, independent code paths in torch);
sampling is checked against the softmax it should draw from.
"""
import string

import pytest
from torch_oracle import one_torch_thread  # noqa: F401  (a fixture)
import torch

from nnlib import pytorch as nt

pytestmark = pytest.mark.unit04


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread."""


def pair(num_layers=2, dropout=0.0, seed=0, vocab=11):
    torch.manual_seed(seed)
    model = nt.CharLSTM(vocab, embed_dim=6, hidden_size=9, num_layers=num_layers, dropout=dropout)
    return model, nt.LSTMCellLoop.from_char_lstm(model)


@pytest.mark.parametrize("num_layers", [1, 2, 3])
def test_cell_loop_equals_nn_lstm_in_float64(num_layers):
    model, loop = pair(num_layers, dropout=0.3)
    model, loop = model.double().eval(), loop.double().eval()
    g = torch.Generator().manual_seed(num_layers)
    x = torch.randint(0, 11, (4, 7), generator=g)
    state = (torch.randn(num_layers, 4, 9, generator=g, dtype=torch.float64),
             torch.randn(num_layers, 4, 9, generator=g, dtype=torch.float64))
    for s in (None, state):
        (a, (ha, ca)), (b, (hb, cb)) = model(x, s), loop(x, s)
        assert a.shape == (4, 7, 11) and ha.shape == (num_layers, 4, 9)
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close((ha, ca), (hb, cb), rtol=1e-12, atol=1e-12)


def test_cell_loop_has_the_same_gradients():
    model, loop = pair(2)
    model, loop = model.double(), loop.double()
    x = torch.randint(0, 11, (3, 5), generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 11, (3, 5), generator=torch.Generator().manual_seed(1))
    for m in (model, loop):
        nt.cross_entropy_last_dim(m(x)[0], y).backward()
    torch.testing.assert_close(model.embed.weight.grad, loop.embed.weight.grad)
    torch.testing.assert_close(model.head.weight.grad, loop.head.weight.grad)
    for k, cell in enumerate(loop.cells):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            torch.testing.assert_close(getattr(model.lstm, f"{name}_l{k}").grad, getattr(cell, name).grad)


def test_char_models_name_a_wrong_input():
    model, loop = pair()
    for m in (model, loop):
        with pytest.raises(ValueError, match=r"got input of shape \(3,\).*expected \(N, T\) integer"):
            m(torch.zeros(3, dtype=torch.int64))
        with pytest.raises(ValueError, match="integer character ids"):
            m(torch.zeros(2, 3))


def test_generate_shapes_and_keeps_the_prefix():
    model, _ = pair()
    model.train()
    prefix = torch.tensor([1, 2, 3])
    out = model.generate(prefix, 10, generator=torch.Generator().manual_seed(0))
    assert out.shape == (13,) and out[:3].tolist() == [1, 2, 3] and out.max() < 11
    assert model.training                                             # mode restored
    batch = model.generate(torch.tensor([[1, 2], [3, 4]]), 5, temperature=0.5)
    assert batch.shape == (2, 7)
    with pytest.raises(ValueError, match="non-empty prefix"):
        model.generate(torch.tensor([], dtype=torch.int64), 3)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        model.generate(prefix, 3, temperature=-1)


def greedy_by_hand(model, prefix, n):
    """Argmax decoding by re-running the whole sequence each step (no carried state)."""
    ids = list(prefix)
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(torch.tensor([ids]))
            ids.append(int(logits[0, -1].argmax()))
    return ids


def test_temperature_zero_is_greedy_and_low_temperature_approaches_it():
    model, loop = pair(seed=3)
    model.eval()
    want = greedy_by_hand(model, [4, 5], 12)
    assert model.generate([4, 5], 12, temperature=0).tolist() == want
    assert loop.generate([4, 5], 12, temperature=0).tolist() == want
    assert model.generate([4, 5], 12, temperature=1e-4, generator=torch.Generator().manual_seed(0)).tolist() == want


def test_high_temperature_flattens_the_samples():
    """Sampled next-character frequencies follow softmax(logits / T): near-uniform for a large T."""
    model, _ = pair(seed=4)
    with torch.no_grad():
        model.head.weight.mul_(20)                                    # peaked logits at T = 1
    g = torch.Generator().manual_seed(0)
    prefix = torch.full((2000, 1), 2)
    counts = {}
    for t in (0.5, 1.0, 50.0):
        nxt = model.generate(prefix, 1, temperature=t, generator=g)[:, 1]
        counts[t] = torch.bincount(nxt, minlength=11).double() / len(nxt)
        logits = model(prefix[:1])[0][0, -1].detach()
        torch.testing.assert_close(counts[t], torch.softmax(logits.double() / t, -1), atol=0.04, rtol=0)
    assert counts[50.0].max() < 0.2 < counts[0.5].max()


def test_same_generator_gives_the_same_text_for_both_models():
    model, loop = pair(seed=5)
    a = model.generate([1], 20, generator=torch.Generator().manual_seed(7))
    b = loop.generate([1], 20, generator=torch.Generator().manual_seed(7))
    assert a.tolist() == b.tolist()


def test_fit_teaches_char_lstm_a_repeating_text():
    text = "the cat sat on the mat. " * 40
    vocab, encode, decode = nt.char_vocabulary(text)
    x, y = nt.next_char_pairs(encode(text), 24)
    torch.manual_seed(0)
    model = nt.CharLSTM(len(vocab), embed_dim=8, hidden_size=32, num_layers=1)
    h = nt.fit(model, (x, y), epochs=30, batch_size=8, lr=2e-2, progress=False)
    assert h["loss"][-1] < 0.2 * h["loss"][0] and h["accuracy"][-1] > 0.9
    assert decode(model.generate(encode("the c"), 14, temperature=0)) == "the cat sat on the "


def test_python_corpus_is_deterministic_and_round_trips():
    a, b = nt.python_corpus(50_000), nt.python_corpus(50_000)
    assert a.text == b.text and len(a.text) == 50_000 and a.vocab == b.vocab
    assert set(a.text) <= set(string.printable) and "def " in a.text
    assert list(a.vocab) == sorted(set(a.text))
    ids = a.encode(a.text)
    assert ids.dtype == torch.int64 and ids.max() == len(a.vocab) - 1
    assert a.decode(ids) == a.text
    assert nt.python_corpus(60_000).text.startswith(a.text)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        a.encode("caf\u00e9")


def test_next_char_pairs_shift_by_one():
    x, y = nt.next_char_pairs(torch.arange(23), 5)
    assert x.shape == y.shape == (4, 5)
    assert torch.equal(y, x + 1) and x[1].tolist() == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError, match="do not fill one window"):
        nt.next_char_pairs(torch.arange(5), 5)
