"""Checkpoints: a model's (and optimizer's) state in one file, with a clear error when it does not fit.

A checkpoint holds the model's ``state_dict``, its class name, the optimizer's
state when given, and any extra values (epoch, history, ...). Only tensors,
numbers, strings, lists and dicts go in, so it loads with
``torch.load(weights_only=True)``: opening a checkpoint never runs code.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn


def _unwrap(model: nn.Module) -> nn.Module:
    # torch.compile wraps the model; its state_dict keys gain an "_orig_mod." prefix
    return getattr(model, "_orig_mod", model)


def save_checkpoint(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None, **extra) -> Path:
    """Write ``model``'s weights (and ``optimizer``'s state, and ``extra``) to ``path``.

    The file is written next to ``path`` first and then renamed over it, so an
    interrupted save never leaves half a checkpoint.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = _unwrap(model)
    state = {"model_class": type(model).__name__, "model": model.state_dict(),
             "optimizer": None if optimizer is None else optimizer.state_dict(), "extra": extra}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def _mismatch(saved: dict, model: nn.Module) -> list[str]:
    own = model.state_dict()
    problems = [f"missing {k}" for k in own if k not in saved]
    problems += [f"unexpected {k}" for k in saved if k not in own]
    problems += [f"{k} is {tuple(saved[k].shape)} in the checkpoint but {tuple(own[k].shape)} in the model"
                 for k in own if k in saved and saved[k].shape != own[k].shape]
    return problems


def load_checkpoint(path, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    map_location=None) -> dict:
    """Load weights saved by ``save_checkpoint`` into ``model`` (and ``optimizer``); return the extras.

    Args:
        map_location: where the tensors go; by default the device of the
            model's first parameter (a GPU checkpoint loads on a CPU).

    Raises:
        ValueError naming the missing, unexpected and mis-shaped parameters
        when the checkpoint was saved from another architecture.
    """
    model = _unwrap(model)
    if map_location is None:
        map_location = next(model.parameters(), torch.empty(0)).device
    state = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not a checkpoint written by save_checkpoint (no 'model' entry)")
    problems = _mismatch(state["model"], model)
    if problems:
        shown = "; ".join(problems[:6]) + (f"; and {len(problems) - 6} more" if len(problems) > 6 else "")
        raise ValueError(f"{path} was saved from a {state.get('model_class', '?')} that does not fit this "
                         f"{type(model).__name__} (different architecture or sizes?): {shown}")
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if state.get("optimizer") is None:
            raise ValueError(f"{path} holds no optimizer state; call load_checkpoint without optimizer=")
        optimizer.load_state_dict(state["optimizer"])
    return dict(state.get("extra", {}))
