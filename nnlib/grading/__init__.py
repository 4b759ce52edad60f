"""Helpers for the assignments' test cells: checks whose failures speak the student's language.

A bare ``assert np.allclose(a, b)`` tells a student only that something is
wrong. ``expect_close`` also recognises the usual mistakes: pass it the
answers those mistakes would produce (computed from an independent oracle,
e.g. torch autograd) with a message each, and a student whose answer matches
one is told which mistake they made.

Failures raise ``GradingError`` (an ``AssertionError``), which nbgrader records
as a failed test.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..module import shape_str


class GradingError(AssertionError):
    """A failed check; the message is written for the student."""


def _describe(x) -> str:
    return f"a {type(x).__name__}" if not hasattr(x, "shape") else f"an array of shape {shape_str(np.shape(x))}"


def as_float_array(name: str, got) -> np.ndarray:
    """``got`` as a float64 array, or a GradingError saying what came instead."""
    if got is None:
        raise GradingError(f"{name} is None: did the function forget to `return` its result?")
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        raise GradingError(f"{name} should be a numpy array of numbers, got {type(got).__name__}") from None
    return arr


def expect_shape(name: str, got, shape: tuple, hint: str = "") -> np.ndarray:
    """Check ``got``'s shape; return it as a float64 array."""
    arr = as_float_array(name, got)
    if arr.shape != tuple(shape):
        raise GradingError(f"{name} should have shape {shape_str(tuple(shape))}, got {shape_str(arr.shape)}."
                           + (f" {hint}" if hint else ""))
    return arr


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and np.allclose(a, b, rtol=rtol, atol=atol)


def expect_close(name: str, got, want, rtol: float = 1e-6, atol: float = 1e-8,
                 mistakes: Iterable[tuple[object, str]] = ()) -> None:
    """Check that ``got`` equals ``want`` up to tolerance.

    Args:
        name: what is checked, as the student knows it ("grad_W").
        got: the student's value; want: the oracle's.
        mistakes: ``(value, message)`` pairs: the value a known mistake would
            give and the message that names it. Checked before the generic message.
    Raises:
        GradingError naming the mistake, or the shape difference, or the
        largest error and where it is.
    """
    want = np.asarray(want, dtype=np.float64)
    arr = as_float_array(name, got)
    if _close(arr, want, rtol, atol):
        return
    for value, message in mistakes:
        value = np.asarray(value, dtype=np.float64)
        if _close(arr, value, rtol, atol) and not _close(value, want, rtol, atol):
            raise GradingError(f"{name} is wrong: {message}")
    if arr.shape != want.shape:
        raise GradingError(f"{name} should have shape {shape_str(want.shape)}, got {shape_str(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise GradingError(f"{name} contains inf or nan (first at index {tuple(int(i) for i in bad)}): "
                           "something overflowed or divided by zero")
    err = np.abs(arr - want)
    where = np.unravel_index(np.argmax(err), err.shape) if err.ndim else ()
    raise GradingError(
        f"{name} is wrong: at index {tuple(int(i) for i in where)} it is {arr[where]:.6g}, "
        f"expected {want[where]:.6g} (largest error {err.max():.3g}; tolerance rtol={rtol:g}, atol={atol:g})"
    )


def expect(condition: bool, message: str) -> None:
    """Raise GradingError(message) unless ``condition``."""
    if not condition:
        raise GradingError(message)


def torch_vjp(fn, *arrays, grad_out=None, seed: int = 0):
    """Run ``fn`` on float64 torch copies of ``arrays`` and backpropagate ``grad_out``.

    The oracle for backward passes: ``(fn(*arrays) * grad_out).sum()`` is
    differentiated by torch autograd, so the returned gradients are
    dL/d(array) for a loss whose gradient at the output is ``grad_out``
    (drawn from N(0, 1) with ``seed`` when not given).

    Returns:
        ``(out, grad_out, grads)``: numpy arrays; ``grads`` one per input.
    """
    import torch  # lazy: only test cells pay for it

    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*ts)
    if grad_out is None:
        grad_out = np.random.default_rng(seed).standard_normal(tuple(out.shape))
    (out * torch.from_numpy(np.asarray(grad_out, dtype=np.float64))).sum().backward()
    return out.detach().numpy(), np.asarray(grad_out), [t.grad.numpy() for t in ts]
