"""``fit`` and ``evaluate``: the training loop of the PyTorch path, read top to bottom.

The data is two tensors ``(x, y)`` moved to the device once; each epoch draws
a seeded permutation on the device and slices batches from it, so no
DataLoader workers copy images around. The speed switches of the GPU
(bf16 autocast, ``channels_last``, ``torch.compile``, a fused optimizer) are a
few marked lines; on a CPU the same code runs without them.
"""
from __future__ import annotations

import contextlib
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import save_checkpoint


def cross_entropy_last_dim(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy with classes on the last axis.

    Shape:
        logits (N, C) with target (N,), or logits (N, T, C) with target (N, T).
    """
    if logits.shape[:-1] != target.shape:
        raise ValueError(f"cross-entropy got logits of shape {tuple(logits.shape)} and targets of shape "
                         f"{tuple(target.shape)}; expected targets of shape {tuple(logits.shape[:-1])}")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), target.reshape(-1))


def _logits(out):
    # sequence models return (logits, state)
    return out[0] if isinstance(out, tuple) else out


def _check_pair(name: str, data) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2 and all(torch.is_tensor(t) for t in data)):
        raise TypeError(f"fit: {name} must be a pair of tensors (x, y), got {type(data).__name__}")
    x, y = data
    if len(x) != len(y):
        raise ValueError(f"fit: {name} has x of shape {tuple(x.shape)} but y of shape {tuple(y.shape)}; "
                         "expected the same number of rows")
    return x, y


def _settings(device: torch.device, x: torch.Tensor, amp, channels_last):
    on_cuda = device.type == "cuda"
    amp = on_cuda if amp is None else bool(amp) and on_cuda             # bf16 autocast: CUDA only
    channels_last = (True if channels_last is None else bool(channels_last)) and on_cuda and x.dim() == 4
    return amp, channels_last


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters(), torch.empty(0)).device


@torch.no_grad()
def evaluate(model: nn.Module, data, *, batch_size: int = 1024, loss_fn: Callable | None = None,
             device=None, amp: bool | None = None, channels_last: bool | None = None) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` on ``data = (x, y)``, in eval mode, without gradients.

    Accuracy compares the argmax over the last axis with integer targets
    (``nan`` for other targets). The model's train/eval mode is restored.

    Shape:
        x (N, ...), y (N,) or (N, T); the model maps a batch x (B, ...) to
        logits (B, C) or (B, T, C), or to a tuple whose first item they are.
    """
    x, y = _check_pair("data", data)
    device = torch.device(device) if device is not None else _model_device(model)
    loss_fn = loss_fn or cross_entropy_last_dim
    amp, channels_last = _settings(device, x, amp, channels_last)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    counted = 0
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size].to(device, non_blocking=True)
        yb = y[start:start + batch_size].to(device, non_blocking=True)
        if channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        with _autocast(device, amp):
            logits = _logits(model(xb))
        loss_sum += loss_fn(logits, yb).float() * len(xb)
        if not yb.is_floating_point():
            correct += (logits.argmax(-1) == yb).sum()
            counted += yb.numel()
    model.train(was_training)
    return {"loss": loss_sum.item() / max(len(x), 1),
            "accuracy": correct.item() / counted if counted else float("nan")}


def fit(model: nn.Module, train, val=None, *, epochs: int = 1, batch_size: int = 128, lr: float = 1e-3,
        weight_decay: float = 0.0, optimizer: torch.optim.Optimizer | None = None,
        loss_fn: Callable | None = None, device=None, amp: bool | None = None,
        channels_last: bool | None = None, compile: bool = False, schedule: str = "constant",
        augment: Callable | None = None, progress: bool = True, checkpoint=None,
        max_steps: int | None = None, grad_clip: float | None = None,
        on_epoch_end: Callable | None = None, seed: int = 0) -> dict[str, list]:
    """Train ``model`` on ``train = (x, y)``; return the per-epoch history.

    Args:
        train, val: ``(x, y)`` tensors; moved once to ``device`` (by default
            the device the model's parameters are on, where the model is too).
        optimizer: by default AdamW(lr, weight_decay), fused on CUDA.
        loss_fn: ``loss_fn(logits, y) -> scalar``; by default cross-entropy
            over the last axis (image logits (B, C) against (B,) labels, or
            sequence logits (B, T, V) against (B, T) next tokens).
        amp: bf16 autocast; default on for CUDA; ignored on other devices.
        channels_last: NHWC memory layout for 4-D inputs (faster convolutions
            on tensor cores); default on for CUDA; ignored on other devices.
        compile: wrap the model in ``torch.compile`` (slow to start; pays off
            on long GPU runs).
        schedule: ``"constant"`` or ``"onecycle"`` (warm up to ``lr``, anneal
            to zero over the run; stepped per batch).
        augment: a function applied to each training batch ``xb`` on the device.
        checkpoint: a path; the model and optimizer are saved there after
            every epoch, with the epoch and the history.
        max_steps: stop after this many optimizer steps in all.
        grad_clip: clip the global gradient norm to this value.
        on_epoch_end: ``on_epoch_end(epoch, history)``, called after each
            epoch (epoch counts from 1); returning True stops training.
        seed: seeds the batch order (a generator on the device).

    Returns:
        ``{"loss", "accuracy", "val_loss", "val_accuracy", "seconds",
        "images_or_tokens_per_s"}``, one entry per epoch: training loss and
        accuracy are running means over the epoch's batches; ``seconds`` is
        the epoch's training time; throughput counts target elements (images
        for (N,) labels, tokens for (N, T) targets). Val entries are ``nan``
        without ``val``, accuracy ``nan`` for non-integer targets.

    Shape:
        x (N, ...), y (N,) or (N, T).
    """
    x, y = _check_pair("train", train)
    if device is not None:
        device = torch.device(device)
        model.to(device)
    else:
        device = _model_device(model)
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if val is not None:
        val = tuple(t.to(device, non_blocking=True) for t in _check_pair("val", val))
    loss_fn = loss_fn or cross_entropy_last_dim
    classify = not y.is_floating_point()
    steps_per_epoch = -(-len(x) // batch_size)
    total_steps = epochs * steps_per_epoch if max_steps is None else min(max_steps, epochs * steps_per_epoch)

    # -- the speed switches ------------------------------------------------
    amp, channels_last = _settings(device, x, amp, channels_last)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True                       # pick the fastest conv algorithm per shape
        torch.backends.cuda.matmul.allow_tf32 = True                # fp32 matmuls on tensor cores
        torch.backends.cudnn.allow_tf32 = True
    if optimizer is None:
        fused = {"fused": True} if device.type == "cuda" else {}
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, **fused)
    if schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(total_steps, 1))
    elif schedule == "constant":
        scheduler = None
    else:
        raise ValueError(f"fit: schedule must be 'constant' or 'onecycle', got {schedule!r}")
    step_model = torch.compile(model) if compile else model

    from tqdm.auto import tqdm  # lazy, as in nnlib.training

    generator = torch.Generator(device=device).manual_seed(seed)
    history: dict[str, list] = {k: [] for k in ("loss", "accuracy", "val_loss", "val_accuracy",
                                                "seconds", "images_or_tokens_per_s")}
    step = 0
    for epoch in range(1, epochs + 1):
        model.train()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        order = torch.randperm(len(x), device=device, generator=generator)
        # running sums stay on the device: reading them (.item()) would wait for the GPU every step
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = items = 0
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch}/{epochs}", disable=not progress, leave=False)
        for i in bar:
            idx = order[i * batch_size:(i + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            if augment is not None:
                xb = augment(xb)
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with _autocast(device, amp):
                logits = _logits(step_model(xb))
                loss = loss_fn(logits, yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            loss_sum += loss.detach().float() * len(xb)
            if classify:
                correct += (logits.detach().argmax(-1) == yb).sum()
            seen += len(xb)
            items += yb.numel()
            if progress and (i % 25 == 0 or i == steps_per_epoch - 1):
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}",
                                acc=f"{correct.item() / items:.3f}" if classify else "-")
            if step >= total_steps:
                break
        bar.close()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        history["loss"].append(loss_sum.item() / seen)
        history["accuracy"].append(correct.item() / items if classify else float("nan"))
        history["seconds"].append(seconds)
        history["images_or_tokens_per_s"].append(items / seconds)
        if val is not None:
            scores = evaluate(step_model, val, batch_size=max(batch_size, 1024), loss_fn=loss_fn,
                              device=device, amp=amp, channels_last=channels_last)
            history["val_loss"].append(scores["loss"])
            history["val_accuracy"].append(scores["accuracy"])
        else:
            history["val_loss"].append(float("nan"))
            history["val_accuracy"].append(float("nan"))
        if progress:
            line = f"epoch {epoch}/{epochs}: loss {history['loss'][-1]:.4f}"
            if classify:
                line += f", accuracy {history['accuracy'][-1]:.3f}"
            if val is not None:
                line += f", val_loss {history['val_loss'][-1]:.4f}, val_accuracy {history['val_accuracy'][-1]:.3f}"
            print(line + f" ({seconds:.1f} s, {history['images_or_tokens_per_s'][-1]:,.0f}/s)")
        if checkpoint is not None:
            save_checkpoint(checkpoint, model, optimizer, epoch=epoch, history=history)
        if on_epoch_end is not None and on_epoch_end(epoch, history):
            break
        if step >= total_steps:
            break
    return history
