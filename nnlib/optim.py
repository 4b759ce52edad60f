"""Optimizers with ``torch.optim``'s arguments, defaults, update rules and parameter groups.

``params`` is an iterable of ``Parameter`` or of dicts ``{"params": [...], "lr": ...}``
(parameter groups, each with its own hyperparameters), as in torch.
Lecture 03 (optimization) derives and compares them.
"""
from __future__ import annotations

import math

import numpy as np

from .module import Parameter


class Optimizer:
    """Base class: holds ``param_groups`` and per-parameter ``state``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.param_groups: list[dict] = []
        self.state: dict[int, dict] = {}
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        ps = group["params"]
        group["params"] = [ps] if isinstance(ps, Parameter) else list(ps)
        for p in group["params"]:
            if not isinstance(p, Parameter):
                raise TypeError(f"{type(self).__name__} expects nnlib Parameters, got {type(p).__name__}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        self.param_groups.append(group)

    def zero_grad(self) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                p.zero_grad()

    def step(self) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                self._update(p, g, self.state.setdefault(id(p), {}))

    def _update(self, p: Parameter, group: dict, state: dict) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({hp})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and weight decay.

    With g = grad + weight_decay·θ:
        b ← g (first step), then b ← μ b + (1 - dampening) g
        d = g + μ b (Nesterov) or b (momentum) or g (plain)
        θ ← θ - lr · d
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if lr < 0:
            raise ValueError(f"SGD: invalid learning rate {lr}; expected lr >= 0")
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum {momentum}; expected momentum >= 0")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}; expected weight_decay >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p, group, state):
        d = p.grad
        if group["weight_decay"]:
            d = d + group["weight_decay"] * p.data
        mu = group["momentum"]
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(d, dtype=np.float64)
            else:
                buf *= mu
                buf += (1.0 - group["dampening"]) * d
            d = d + mu * buf if group["nesterov"] else buf
        p.data -= group["lr"] * d


class Adagrad(Optimizer):
    """Adagrad: each coordinate's step is divided by the root of its summed squared gradients.

    With g = grad + weight_decay·θ, at step t = 1, 2, ...:
        s ← s + g²                  (s starts at initial_accumulator_value)
        θ ← θ - lr / (1 + (t - 1)·lr_decay) · g / (√s + eps)
    The steps fade as s grows: good for sparse gradients, too slow for long training.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10):
        for name, value in [("learning rate", lr), ("lr_decay", lr_decay), ("weight_decay", weight_decay),
                            ("initial_accumulator_value", initial_accumulator_value), ("eps", eps)]:
            if value < 0:
                raise ValueError(f"Adagrad: invalid {name} {value}; expected {name} >= 0")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _update(self, p, group, state):
        if not state:
            # torch fills every accumulator with the constructor's value, even for a group that sets its own
            state.update(step=0, sum=np.full_like(p.data, self.defaults["initial_accumulator_value"]))
        state["step"] += 1
        g = p.grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += g * g
        p.data -= clr * (g / (np.sqrt(state["sum"]) + group["eps"]))


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square of recent gradients.

    With g = grad + weight_decay·θ:
        v ← α v + (1 - α) g²
        centered: ḡ ← α ḡ + (1 - α) g, and v - ḡ² (a variance) replaces v below
        d = g / (√v + eps)
        momentum > 0: b ← μ b + d, θ ← θ - lr · b;  otherwise θ ← θ - lr · d
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False):
        for name, value in [("learning rate", lr), ("eps", eps), ("momentum", momentum),
                            ("weight_decay", weight_decay), ("alpha", alpha)]:
            if value < 0:
                raise ValueError(f"RMSprop: invalid {name} {value}; expected {name} >= 0")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, p, group, state):
        if not state:
            state.update(step=0, square_avg=np.zeros_like(p.data))
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1
        g = p.grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        alpha = group["alpha"]
        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * (g * g)
        if group["centered"]:
            m = state["grad_avg"]
            m += (1 - alpha) * (g - m)
            avg = np.sqrt(v - m * m)
        else:
            avg = np.sqrt(v)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += g / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * (g / avg)


class Adam(Optimizer):
    """Adam: momentum on the gradient, RMSprop's scaling, both bias-corrected.

    With g = grad + weight_decay·θ, at step t = 1, 2, ...:
        m ← β1 m + (1 - β1) g,   v ← β2 v + (1 - β2) g²        (m, v start at 0)
        amsgrad: v_max ← max(v_max, v), used in place of v below
        θ ← θ - lr / (1 - β1^t) · m / (√v / √(1 - β2^t) + eps)
    Without the corrections 1/(1 - β^t), the zero start makes the first steps too small.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False):
        if lr < 0:
            raise ValueError(f"Adam: invalid learning rate {lr}; expected lr >= 0")
        if eps < 0:
            raise ValueError(f"Adam: invalid eps {eps}; expected eps >= 0")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam: invalid beta parameter at index {i}: {beta}; expected 0 <= beta < 1")
        if weight_decay < 0:
            raise ValueError(f"Adam: invalid weight_decay {weight_decay}; expected weight_decay >= 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _update(self, p, group, state):
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        state["step"] += 1
        t = state["step"]
        beta1, beta2 = group["betas"]
        g = p.grad
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p.data
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * (g * g)
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        step_size = group["lr"] / (1 - beta1 ** t)
        denom = np.sqrt(v) / (1 - beta2 ** t) ** 0.5 + group["eps"]
        p.data -= step_size * (m / denom)


class LRScheduler:
    """Base class of the learning-rate schedules: each ``step()`` rewrites ``param_groups[i]["lr"]``.

    Call ``scheduler.step()`` once per epoch, after ``optimizer.step()``, as in torch. Like torch's
    schedulers these are *chainable*: each step scales the group's current ``lr``, so a schedule and a
    manual change of ``lr`` compose. ``base_lrs`` are the learning rates when the schedule started.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} expects an nnlib Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}(last_epoch={last_epoch}): param_groups[{i}] has no "
                                   "'initial_lr'; resuming a schedule needs the optimizer it was started with")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial = True
        self.step()
        self._initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group after the latest ``step()``."""
        return list(self._last_lr)

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply every group's lr by ``gamma`` each ``step_size`` epochs: lr_e = lr_0 · γ^⌊e / step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive number of epochs, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class ExponentialLR(LRScheduler):
    """Multiply every group's lr by ``gamma`` each epoch: lr_e = lr_0 · γ^e."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from each group's lr_0 down to ``eta_min`` over ``T_max`` epochs (then back up):

        lr_e = eta_min + (lr_0 - eta_min) · (1 + cos(π e / T_max)) / 2

    computed, as in torch, as a ratio of consecutive values times the current lr (chainable).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive number of epochs, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, T, lo = self.last_epoch, self.T_max, self.eta_min
        if self._initial:
            return self._current()
        if (e - 1 - T) % (2 * T) == 0:  # leaving the minimum, where the ratio below would divide by zero
            return [lr + (base - lo) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - lo) + lo
                for lr in self._current()]
