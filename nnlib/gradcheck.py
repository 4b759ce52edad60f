"""Numerical gradients by central differences, and a check of any module's backward.

    df/dx_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h     (error O(h^2))

The module check uses the "fake loss" L = sum(forward(x) * G) for a random G:
then dL/d(output) = G exactly, so ``backward(G)`` must equal the numerical
dL/dx, and each parameter's ``.grad`` the numerical dL/dθ.
Lecture 02 (backpropagation) ends with this check.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .module import Module


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to the array ``x``.

    ``x`` is perturbed in place, one entry at a time, and restored; ``f`` takes
    no argument and reads ``x`` (so ``x`` may be a parameter's ``.data``).

    Shape:
        x (*) float64 -> gradient (*), the same shape.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"numerical_gradient needs a float64 numpy array to perturb, got "
                        f"{type(x).__name__}{'' if not hasattr(x, 'dtype') else ' of ' + str(x.dtype)}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def rel_error(a, b, eps: float = 1e-12) -> float:
    """max |a - b| / max(|a| + |b|): 0 for equal arrays, ~1 for unrelated ones."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a) + np.abs(b))), eps)) if a.size else 0.0


def check_module_backward(module: Module, x, rng=None, h: float = 1e-6) -> dict[str, float]:
    """Relative errors between ``module.backward`` and numerical gradients.

    Returns ``{"input": err, "<param name>": err, ...}``; values below ~1e-7
    mean the backward is right (float64, smooth functions).

    ``rng`` draws the upstream gradient G: do not draw ``x`` from the same
    seed, or G may equal x and hide a transposed weight gradient (x^T x is symmetric).

    Shape:
        x: any shape ``module.forward`` accepts.
    """
    rng = np.random.default_rng(rng)
    x = np.array(x, dtype=np.float64)
    out = module.forward(x)
    grad_out = rng.standard_normal(np.shape(out))

    def fake_loss() -> float:
        return float(np.sum(module.forward(x) * grad_out))

    module.zero_grad()
    module.forward(x)
    grad_x = module.backward(grad_out)
    analytic = {name: p.grad.copy() for name, p in module.named_parameters()}

    errors = {"input": rel_error(grad_x, numerical_gradient(fake_loss, x, h))}
    for name, p in module.named_parameters():
        errors[name] = rel_error(analytic[name], numerical_gradient(fake_loss, p.data, h))
    return errors


def gradcheck(module: Module, x, rng=None, tol: float = 1e-6) -> None:
    """Raise AssertionError naming the gradient that disagrees with its numerical estimate."""
    errors = check_module_backward(module, x, rng)
    bad = {k: v for k, v in errors.items() if not v <= tol}
    if bad:
        listed = ", ".join(f"{k}: {v:.2e}" for k, v in bad.items())
        raise AssertionError(f"{module!r}: backward disagrees with numerical gradients "
                             f"(relative error above {tol:g}) for {listed}")
