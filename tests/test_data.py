"""Offline datasets and minibatches: shapes, dtypes, labels, determinism, balance, no network."""
import random
import socket
import urllib.request

import numpy as np
import pytest

from nnlib import data

pytestmark = pytest.mark.unit01


def block_network(mp, calls):
    """Make every way out of this process raise, and record the attempts."""
    def refuse(*args, **kwargs):
        calls.append(args)
        raise OSError("a test tried to use the network")

    mp.setattr(socket.socket, "connect", refuse)
    mp.setattr(socket.socket, "connect_ex", refuse)
    mp.setattr(socket, "create_connection", refuse)
    mp.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture
def no_network(monkeypatch):
    calls = []
    block_network(monkeypatch, calls)
    yield
    assert not calls, f"network access attempted: {calls}"


@pytest.fixture(scope="module")
def mnist1d_default():
    """The published MNIST-1D split, generated once for this module with the network blocked."""
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        block_network(mp, calls)
        split = data.mnist1d()
    assert not calls, f"network access attempted: {calls}"
    return split


# -- toy sets ---------------------------------------------------------------

TOY = {
    "xor": (lambda rng: data.xor(400, rng=rng), 2),
    "circles": (lambda rng: data.circles(400, rng=rng), 2),
    "spirals": (lambda rng: data.spirals(300, classes=3, rng=rng), 3),
    "spirals5": (lambda rng: data.spirals(250, classes=5, rng=rng), 5),
}


@pytest.mark.parametrize("name", TOY)
def test_toy_classification_shapes_dtypes_and_labels(name):
    make, classes = TOY[name]
    x, y = make(0)
    n = len(x)
    assert x.shape == (n, 2) and y.shape == (n,)
    assert x.dtype == np.float64 and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(classes))
    assert np.all(np.isfinite(x))


@pytest.mark.parametrize("name", TOY)
def test_toy_classification_classes_are_balanced(name):
    make, classes = TOY[name]
    counts = np.bincount(make(1)[1], minlength=classes)
    if name == "xor":  # corners drawn at random: balanced only on average
        assert np.all(np.abs(counts / counts.sum() - 0.5) < 0.1), counts
    else:
        assert counts.max() == counts.min(), counts


@pytest.mark.parametrize("name", [*TOY, "sine"])
def test_toy_sets_are_deterministic_given_the_seed(name):
    make = TOY[name][0] if name in TOY else (lambda rng: data.sine(100, rng=rng))
    a, b, c = make(3), make(3), make(4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_toy_sets_accept_a_generator_and_leave_global_state_alone():
    state = np.random.get_state()[1].copy()
    x1, _ = data.xor(50, rng=np.random.default_rng(5))
    x2, _ = data.xor(50, rng=5)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_xor_label_is_one_where_the_signs_differ():
    x, y = data.xor(500, noise=0.1, rng=0)
    np.testing.assert_array_equal(y, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(np.int64))


def test_circles_inner_ring_is_class_one_at_radius_factor():
    x, y = data.circles(2000, noise=0.05, factor=0.3, rng=0)
    r = np.hypot(x[:, 0], x[:, 1])
    assert r[y == 1].mean() == pytest.approx(0.3, abs=0.02)
    assert r[y == 0].mean() == pytest.approx(1.0, abs=0.02)


def test_spirals_lie_in_the_unit_disc():
    x, _ = data.spirals(600, noise=0.5, rng=0)
    assert np.hypot(x[:, 0], x[:, 1]).max() <= 1.0 + 1e-12


def test_sine_is_sorted_regression_data_with_the_requested_noise():
    x, y = data.sine(2000, noise=0.05, low=-2.0, high=3.0, rng=0)
    assert x.shape == (2000, 1) and y.shape == (2000, 1)
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert np.all(np.diff(x[:, 0]) >= 0) and x.min() >= -2.0 and x.max() <= 3.0
    assert np.std(y - np.sin(x)) == pytest.approx(0.05, rel=0.1)


# -- digits -----------------------------------------------------------------

def test_digits_shapes_dtypes_ranges_and_balance():
    split = data.digits()
    assert split.x_train.shape == (1348, 64) and split.x_test.shape == (449, 64)
    assert split.y_train.shape == (1348,) and split.y_test.shape == (449,)
    assert split.x_train.dtype == np.float64 and split.y_train.dtype == np.int64
    assert split.x_train.min() == 0.0 and split.x_train.max() == 1.0
    counts = np.bincount(np.concatenate([split.y_train, split.y_test]), minlength=10)
    assert len(counts) == 10 and counts.min() >= 170 and counts.max() <= 190, counts
    assert set(np.unique(split.y_test)) == set(range(10))


def test_digits_split_is_deterministic_given_the_seed():
    a, b, c = data.digits(rng=1), data.digits(rng=1), data.digits(rng=2)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_train, c.y_train)


# -- MNIST-1D ---------------------------------------------------------------

def test_mnist1d_default_is_the_published_4000_1000_by_40_split(mnist1d_default):
    s = mnist1d_default
    assert s.x_train.shape == (4000, 40) and s.x_test.shape == (1000, 40)
    assert s.y_train.shape == (4000,) and s.y_test.shape == (1000,)
    assert s.x_train.dtype == np.float64 and s.y_train.dtype == np.int64
    assert set(np.unique(s.y_train)) == set(np.unique(s.y_test)) == set(range(10))


def test_mnist1d_classes_are_balanced(mnist1d_default):
    s = mnist1d_default
    counts = np.bincount(s.y_train, minlength=10) + np.bincount(s.y_test, minlength=10)
    np.testing.assert_array_equal(counts, 500)
    assert np.bincount(s.y_train).min() >= 350


def test_mnist1d_is_deterministic_offline_and_leaves_global_random_state_alone(no_network):
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    a = data.mnist1d(num_samples=300, seed=1)
    assert (np.random.random(), random.random()) == (expected_np, expected_py), \
        "mnist1d must not reseed numpy's or Python's global generator"
    b, c = data.mnist1d(num_samples=300, seed=1), data.mnist1d(num_samples=300, seed=2)
    assert a.x_train.shape == (240, 40)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.x_train, c.x_train)


# -- splitting and minibatches ----------------------------------------------

def test_train_test_split_partitions_the_rows():
    x = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    s = data.train_test_split(x, y, test_fraction=0.25, rng=0)
    assert len(s.x_test) == 5 and len(s.x_train) == 15
    assert sorted(np.concatenate([s.y_train, s.y_test])) == list(range(20))
    np.testing.assert_array_equal(s.x_train[:, 0], 2 * s.y_train)  # rows stay paired


def test_train_test_split_mismatched_lengths_raise():
    with pytest.raises(ValueError, match="5 rows.*4"):
        data.train_test_split(np.zeros((5, 2)), np.zeros(4))


@pytest.mark.parametrize("n, batch_size, shuffle", [(10, 3, True), (10, 5, False), (7, 32, True), (1, 1, True)])
def test_minibatches_cover_every_row_exactly_once(n, batch_size, shuffle):
    x = np.arange(n * 2).reshape(n, 2).astype(np.float64)
    y = np.arange(n)
    batches = list(data.minibatches(x, y, batch_size, shuffle=shuffle, rng=0))
    assert [len(b[0]) for b in batches] == [min(batch_size, n - s) for s in range(0, n, batch_size)]
    seen = np.concatenate([yb for _, yb in batches])
    assert sorted(seen) == list(range(n))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], 2 * yb)
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(n))


def test_minibatches_shuffle_depends_on_the_seed_only():
    x, y = np.zeros((50, 1)), np.arange(50)
    order = lambda rng: np.concatenate([yb for _, yb in data.minibatches(x, y, 8, rng=rng)])  # noqa: E731
    np.testing.assert_array_equal(order(1), order(1))
    assert not np.array_equal(order(1), order(2))
    assert not np.array_equal(order(1), y)


def test_minibatches_mismatched_lengths_raise_naming_shapes():
    with pytest.raises(ValueError) as err:
        list(data.minibatches(np.zeros((6, 2)), np.zeros(5)))
    assert "(6, 2)" in str(err.value) and "(5,)" in str(err.value)


def test_minibatches_batch_size_below_one_raises():
    with pytest.raises(ValueError, match="batch_size"):
        list(data.minibatches(np.zeros((6, 2)), np.zeros(6), batch_size=0))

