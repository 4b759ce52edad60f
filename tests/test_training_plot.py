"""fit, accuracy and predict_classes on toy data; the plot helpers label what they draw."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nnlib  # noqa: E402
from nnlib import data  # noqa: E402

pytestmark = pytest.mark.unit01


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def two_layer_net(d_out, hidden=8):
    return nnlib.Sequential(nnlib.Linear(2, hidden, rng=0), nnlib.Tanh(), nnlib.Linear(hidden, d_out, rng=1))


# -- training ---------------------------------------------------------------

def test_fit_two_layer_net_solves_xor_with_cross_entropy():
    x, y = data.xor(200, rng=0)
    x_val, y_val = data.xor(200, rng=1)
    model = two_layer_net(2)
    history = nnlib.fit(model, nnlib.CrossEntropyLoss(), nnlib.SGD(model.parameters(), lr=0.2, momentum=0.9),
                        x, y, epochs=30, batch_size=20, x_val=x_val, y_val=y_val, rng=0, progress=False)
    assert set(history) == {"loss", "accuracy", "val_accuracy"}
    assert all(len(v) == 30 for v in history.values())
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["val_accuracy"][-1] >= 0.95
    assert nnlib.accuracy(model, x_val, y_val) == history["val_accuracy"][-1]
    assert not model.training, "fit leaves the model in eval mode"


def test_fit_single_logit_net_solves_xor_with_bce():
    x, y = data.xor(200, rng=2)
    model = two_layer_net(1)
    history = nnlib.fit(model, nnlib.BCEWithLogitsLoss(), nnlib.SGD(model.parameters(), lr=0.2, momentum=0.9),
                        x, y, epochs=30, batch_size=20, rng=0, progress=False)
    assert set(history) == {"loss", "accuracy"}
    assert nnlib.accuracy(model, *data.xor(200, rng=3)) >= 0.95


def test_fit_regression_records_only_the_loss():
    x, y = data.sine(100, rng=0)
    model = nnlib.Sequential(nnlib.Linear(1, 16, rng=0), nnlib.Tanh(), nnlib.Linear(16, 1, rng=1))
    history = nnlib.fit(model, nnlib.MSELoss(), nnlib.SGD(model.parameters(), lr=0.05, momentum=0.9),
                        x, y, epochs=40, batch_size=10, rng=0, progress=False)
    assert list(history) == ["loss"]
    assert history["loss"][-1] < 0.1 * history["loss"][0]


def test_fit_is_reproducible_given_the_seeds():
    x, y = data.xor(100, rng=0)
    losses = []
    for _ in range(2):
        model = two_layer_net(2)
        losses.append(nnlib.fit(model, nnlib.CrossEntropyLoss(), nnlib.SGD(model.parameters(), lr=0.1),
                                x, y, epochs=3, rng=7, progress=False)["loss"])
    assert losses[0] == losses[1]


def test_predict_classes_uses_argmax_or_the_sign_of_one_logit():
    identity = nnlib.Linear(3, 3, bias=False)
    identity.weight.data[...] = np.eye(3)
    x = np.array([[0.1, 0.9, 0.0], [2.0, -1.0, 1.0], [0.0, 0.0, 3.0]])
    np.testing.assert_array_equal(nnlib.predict_classes(identity, x), [1, 0, 2])
    assert nnlib.accuracy(identity, x, [1, 0, 0]) == pytest.approx(2 / 3)
    first = nnlib.Linear(3, 1, bias=False)
    first.weight.data[...] = [[1.0, 0.0, 0.0]]
    np.testing.assert_array_equal(nnlib.predict_classes(first, np.array([[-1.0, 5, 5], [2.0, 0, 0]])), [0, 1])


# -- plots ------------------------------------------------------------------

def test_plot_decision_boundary_labels_its_axes_and_draws_every_point():
    x, y = data.spirals(90, rng=0)
    ax = nnlib.plot.plot_decision_boundary(lambda p: (p[:, 0] > 0).astype(int), x, y, resolution=30,
                                           title="a vertical boundary")
    assert ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_title() == "a vertical boundary"
    offsets = [c.get_offsets() for c in ax.collections if len(c.get_offsets()) == len(x)]
    assert offsets and np.allclose(offsets[0], x), "every data point should be scattered"


def test_plot_decision_boundary_draws_on_the_given_axes():
    _, ax = plt.subplots()
    x, y = data.xor(20, rng=0)
    assert nnlib.plot.plot_decision_boundary(lambda p: np.zeros(len(p), int), x, y, ax=ax, resolution=10) is ax


def test_plot_decision_boundary_rejects_points_that_are_not_two_dimensional():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        nnlib.plot.plot_decision_boundary(lambda p: p[:, 0], np.zeros((5, 3)), np.zeros(5))


def test_plot_history_with_accuracy_draws_two_labelled_titled_axes():
    history = {"loss": [1.0, 0.5, 0.2], "accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.4, 0.7, 0.85]}
    axes = nnlib.plot.plot_history(history, title="xor")
    assert len(axes) == 2
    loss_ax, acc_ax = axes
    assert loss_ax.get_title() == "xor" and acc_ax.get_title()
    assert loss_ax.get_xlabel() == acc_ax.get_xlabel() == "epoch"
    assert "loss" in loss_ax.get_ylabel() and "accuracy" in acc_ax.get_ylabel()
    assert loss_ax.get_yscale() == "log"
    np.testing.assert_array_equal(loss_ax.lines[0].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(loss_ax.lines[0].get_ydata(), history["loss"])
    assert len(acc_ax.lines) == 2
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == ["accuracy", "val accuracy"]


def test_plot_history_of_a_regression_draws_one_axes():
    axes = nnlib.plot.plot_history({"loss": [3.0, 2.0]})
    assert len(axes) == 1
    assert axes[0].get_xlabel() == "epoch" and axes[0].get_ylabel() and axes[0].get_title()


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def test_plot_paths_draws_contours_each_path_the_start_and_the_minimum():
    paths = {"sgd": np.array([[-1.5, 2.0], [-1.0, 1.0], [0.0, 0.2]]), "adam": np.array([[-1.5, 2.0], [0.5, 0.5]])}
    ax = nnlib.plot.plot_paths(rosenbrock, paths, xlim=(-2, 2), ylim=(-1, 3), minimum=(1, 1), title="valley")
    drawn = {line.get_label(): line for line in ax.lines}
    np.testing.assert_array_equal(drawn["sgd"].get_xdata(), paths["sgd"][:, 0])
    np.testing.assert_array_equal(drawn["adam"].get_ydata(), paths["adam"][:, 1])
    markers = [line for line in ax.lines if line.get_label().startswith("_")]
    assert sorted((line.get_xdata()[0], line.get_ydata()[0]) for line in markers) == [(-1.5, 2.0), (1, 1)]
    assert ax.collections, "no contour lines were drawn"
    assert ax.get_xlim() == (-2, 2) and ax.get_ylim() == (-1, 3) and ax.get_title() == "valley"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["sgd", "adam"]
    plt.close("all")


def test_plot_paths_linear_levels_and_bad_path_shape():
    ax = nnlib.plot.plot_paths(lambda x, y: x ** 2 + y ** 2, {}, xlim=(-1, 1), ylim=(-1, 1), log_levels=False)
    assert ax.collections and ax.get_legend() is None
    with pytest.raises(ValueError, match=r"path 'gd' should have shape \(T, 2\), got \(3,\)"):
        nnlib.plot.plot_paths(rosenbrock, {"gd": [1.0, 2.0, 3.0]}, xlim=(-2, 2), ylim=(-1, 3))
    plt.close("all")


def test_plot_error_curves_uses_a_log_axis_drops_zeros_and_matches_theory_colours():
    errors = np.array([1.0, 0.5, 0.25, 0.0])
    ax = nnlib.plot.plot_error_curves({"eta=0.5": errors}, theory={"eta=0.5": 0.5 ** np.arange(4)})
    assert ax.get_yscale() == "log"
    measured, predicted = ax.lines
    np.testing.assert_array_equal(measured.get_xdata(), [0, 1, 2])            # the exact zero is left out
    np.testing.assert_array_equal(predicted.get_ydata(), [1, 0.5, 0.25, 0.125])
    assert predicted.get_linestyle() == "--" and predicted.get_color() == measured.get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["eta=0.5"]
    plt.close("all")


def test_plot_error_curves_rejects_theory_that_does_not_fit_its_curve():
    with pytest.raises(ValueError, match="theory lines \\['b'\\] have no measured curve"):
        nnlib.plot.plot_error_curves({"a": [1.0, 0.5]}, theory={"b": [1.0, 0.5]})
    with pytest.raises(ValueError, match=r"theory for 'a' should have shape \(2,\) like its curve, got \(3,\)"):
        nnlib.plot.plot_error_curves({"a": [1.0, 0.5]}, theory={"a": [1.0, 0.5, 0.25]})
    plt.close("all")
