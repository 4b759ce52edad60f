"""Plot helpers used across the lectures: decision regions and training curves.

matplotlib is imported inside each function so that ``import nnlib`` stays fast.
"""
from __future__ import annotations

import numpy as np


def plot_decision_boundary(predict, x, y, ax=None, resolution: int = 200, margin: float = 0.3,
                           title: str | None = None):
    """Colour the plane by ``predict``'s class and scatter the labelled points on top.

    Args:
        predict: maps an (M, 2) array of points to (M,) class indices.
        x: (N, 2) points; y: (N,) labels.
    Returns:
        the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points of shape (N, 2), got {x.shape}")
    ax = ax if ax is not None else plt.gca()
    lo, hi = x.min(axis=0) - margin, x.max(axis=0) + margin
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([g1.ravel(), g2.ravel()], axis=1)                  # (R*R, 2)
    zz = np.asarray(predict(grid)).reshape(g1.shape)                   # (R, R)
    classes = np.unique(np.concatenate([np.unique(zz), np.unique(y)]))
    ax.contourf(g1, g2, zz, levels=np.arange(classes.max() + 2) - 0.5, cmap="coolwarm", alpha=0.35)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_history(history: dict, axes=None, title: str | None = None):
    """Loss (log scale) and, when recorded, accuracy per epoch, side by side.

    Args:
        history: as returned by ``nnlib.fit``: ``{"loss": [...], "accuracy": [...], ...}``.
    Returns:
        the matplotlib Axes (one or two).
    """
    import matplotlib.pyplot as plt

    acc_keys = [k for k in history if "accuracy" in k]
    if axes is None:
        _, axes = plt.subplots(1, 2 if acc_keys else 1, figsize=(10 if acc_keys else 5, 3.5), squeeze=False)
        axes = axes[0]
    axes = np.atleast_1d(axes)
    epochs = np.arange(1, len(history["loss"]) + 1)
    axes[0].plot(epochs, history["loss"])
    axes[0].set_yscale("log")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[0].set_title(title or "loss")
    if acc_keys and len(axes) > 1:
        for k in acc_keys:
            axes[1].plot(epochs, history[k], label=k.replace("_", " "))
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("accuracy (fraction correct)")
        axes[1].set_ylim(0, 1.02)
        axes[1].legend()
        axes[1].set_title("accuracy")
    return axes


def plot_paths(f, paths: dict, xlim: tuple, ylim: tuple, ax=None, levels: int = 30, log_levels: bool = True,
               minimum=None, title: str | None = None, resolution: int = 200):
    """Contour lines of a function of two variables with optimizer paths drawn on top.

    Args:
        f: maps arrays X, Y (any equal shape) to f(X, Y), element-wise.
        paths: label -> (T, 2) array of the points visited, start first.
        xlim, ylim: (low, high) of the plotted window; paths may leave it.
        log_levels: space the contour levels logarithmically (above min f), for valleys like Rosenbrock's.
        minimum: an optional (x, y) marked with a star.
    Returns:
        the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 5))
    gx, gy = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    z = f(gx, gy)                                                           # (R, R)
    if log_levels:
        lo = z.min()
        ax.contour(gx, gy, z, levels=lo + np.geomspace(1e-3 * (z.max() - lo) + 1e-12, z.max() - lo, levels),
                   cmap="viridis", linewidths=0.6)
    else:
        ax.contour(gx, gy, z, levels=levels, cmap="viridis", linewidths=0.6)
    for label, path in paths.items():
        path = np.asarray(path, dtype=np.float64)
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"plot_paths: path '{label}' should have shape (T, 2), got {path.shape}")
        ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, label=label)
    if paths:
        start = np.asarray(next(iter(paths.values())))[0]
        ax.plot(*start, "ko", ms=5)
    if minimum is not None:
        ax.plot(*minimum, "k*", ms=12)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    if paths:
        ax.legend(fontsize=8)
    return ax


def plot_error_curves(curves: dict, ax=None, theory: dict | None = None, xlabel: str = "step $t$",
                      ylabel: str = "error $|x_t - x^*|$", title: str | None = None):
    """Errors against steps on a log scale, each with an optional dashed theory line in the same colour.

    Args:
        curves: label -> (T,) positive errors (zeros are dropped from the log plot).
        theory: label -> (T,) predicted errors for the curve of the same label.
    Returns:
        the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    theory = theory or {}
    unknown = set(theory) - set(curves)
    if unknown:
        raise ValueError(f"plot_error_curves: theory lines {sorted(unknown)} have no measured curve; "
                         f"curves are {sorted(curves)}")
    for label, errors in curves.items():
        errors = np.asarray(errors, dtype=np.float64)
        steps = np.arange(len(errors))
        shown = errors > 0
        line, = ax.semilogy(steps[shown], errors[shown], label=label)
        if label in theory:
            predicted = np.asarray(theory[label], dtype=np.float64)
            if predicted.shape != errors.shape:
                raise ValueError(f"plot_error_curves: theory for '{label}' should have shape {errors.shape} "
                                 f"like its curve, got {predicted.shape}")
            ax.semilogy(steps, predicted, "--", color=line.get_color(), lw=1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    return ax
