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
