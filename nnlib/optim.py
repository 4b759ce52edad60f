"""Optimizers with ``torch.optim``'s arguments, defaults, update rules and parameter groups.

``params`` is an iterable of ``Parameter`` or of dicts ``{"params": [...], "lr": ...}``
(parameter groups, each with its own hyperparameters), as in torch.
Lecture 03 (optimization) derives and compares them.
"""
from __future__ import annotations

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
