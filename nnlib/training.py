"""A minimal minibatch training loop for nnlib models, with a progress bar.

Students write this loop themselves in assignment 01; lectures use ``fit`` so
that a comparison of ten networks is one line each.
"""
from __future__ import annotations

import numpy as np

from .data import minibatches


def predict_classes(model, x) -> np.ndarray:
    """Class indices: argmax over the last axis, or the sign of a single logit.

    Shape:
        x (N, D) -> (N,) int64.
    """
    out = model.forward(np.asarray(x, dtype=np.float64))
    if out.ndim == 1 or out.shape[-1] == 1:
        return (out.reshape(len(out)) > 0).astype(np.int64)
    return out.argmax(axis=-1)


def accuracy(model, x, y) -> float:
    """Fraction of rows whose predicted class equals ``y``. Shape: x (N, D), y (N,)."""
    return float(np.mean(predict_classes(model, x) == np.asarray(y).reshape(-1)))


def fit(model, loss_fn, optimizer, x, y, epochs: int = 10, batch_size: int = 32,
        x_val=None, y_val=None, rng=0, progress: bool = True) -> dict[str, list[float]]:
    """Train ``model`` by minibatch descent on ``loss_fn``; return the history.

    Each step: forward, loss, ``loss_fn.backward()``, ``model.backward``,
    ``optimizer.step()``, ``optimizer.zero_grad()``.

    Returns:
        ``{"loss": [...], "accuracy": [...]}`` per epoch (mean training loss,
        training accuracy for classification), plus ``"val_accuracy"`` when
        validation data is given. Accuracy is recorded only for integer labels.

    Shape:
        x (N, D); y (N,) int labels or (N, K) regression targets.
    """
    from tqdm.auto import tqdm  # lazy: keeps `import nnlib` light

    rng = np.random.default_rng(rng)
    classify = np.issubdtype(np.asarray(y).dtype, np.integer)
    history: dict[str, list[float]] = {"loss": []}
    bar = tqdm(range(epochs), desc="training", disable=not progress, leave=False)
    for _ in bar:
        model.train()
        total, seen = 0.0, 0
        for xb, yb in minibatches(x, y, batch_size, rng=rng):
            out = model.forward(xb)
            if classify and out.ndim == 2 and out.shape[1] == 1:
                yb = yb.reshape(-1, 1).astype(np.float64)      # binary: BCE on one logit
            loss = loss_fn.forward(out, yb)
            model.backward(loss_fn.backward())
            optimizer.step()
            optimizer.zero_grad()
            total += loss * len(xb)
            seen += len(xb)
        model.eval()
        history["loss"].append(total / seen)
        postfix = {"loss": f"{history['loss'][-1]:.4f}"}
        if classify:
            history.setdefault("accuracy", []).append(accuracy(model, x, y))
            postfix["acc"] = f"{history['accuracy'][-1]:.3f}"
            if x_val is not None:
                history.setdefault("val_accuracy", []).append(accuracy(model, x_val, y_val))
                postfix["val_acc"] = f"{history['val_accuracy'][-1]:.3f}"
        bar.set_postfix(postfix)
    return history
