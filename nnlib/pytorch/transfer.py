"""Transfer learning on the PyTorch path: freeze a backbone, replace the head, per-group learning rates.

A network trained on a *source* task is reused for a *target* task with few
labels. Its last layer (the *head*) is replaced by a new one sized for the
target's classes; the rest (the *backbone*) is either

- **frozen** (feature extraction, a "linear probe" when the new head is one
  linear layer): its parameters get ``requires_grad = False`` and stay
  bit-identical, and only the head is given to the optimizer; or
- **fine-tuned**: trained too, with a smaller learning rate than the new head,
  through optimizer parameter groups.

The source model of lecture 06 and assignment 05 is ``SmallCNN`` trained on
MNIST-5k by ``train_source_model`` (with the PyTorch path's ``fit``); the
checkpoint shipped next to this file (``mnist5k_cnn.pt``, written by
``save_checkpoint``) was made by ``make_checkpoint()``, and
``load_source_model`` checks its sha256 before loading it.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import load_checkpoint
from .train import evaluate, fit

CHECKPOINT = Path(__file__).with_name("mnist5k_cnn.pt")
# sha256 of the shipped checkpoint; tests/test_transfer.py retrains it and compares accuracies
CHECKPOINT_SHA256 = "98904ad4a47a6c2f0ed488038d0bdd938588294c8dd50b867f77a5b927e19fe1"
# test accuracy of the shipped checkpoint on mnist_5k()'s 1000 test images, measured when it was made
CHECKPOINT_TEST_ACCURACY = 0.964
SOURCE_TRAINING = dict(epochs=6, batch_size=64, lr=2e-3, seed=0)


class SmallCNN(nn.Module):
    """Two conv-ReLU-maxpool blocks and a hidden layer (``features``), then a linear head (``fc``).

    Small enough to train on MNIST-5k in seconds on one CPU core (about 54k
    parameters). ``features`` is the backbone, ``fc`` the head, named as in
    torchvision's ResNet so that ``replace_head`` works on both.

    Shape:
        x (N, 1, 28, 28) -> logits (N, num_classes); ``features(x)`` -> (N, hidden).
    """

    def __init__(self, num_classes: int = 10, channels: tuple[int, int] = (8, 16), hidden: int = 64):
        super().__init__()
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),     # (N, c1, 14, 14)
            nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),    # (N, c2, 7, 7)
            nn.Flatten(),                                                              # (N, c2*49)
            nn.Linear(c2 * 49, hidden), nn.ReLU(),                                     # (N, hidden)
        )
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"SmallCNN got input of shape {tuple(x.shape)}; expected (N, 1, 28, 28)")
        return self.fc(self.features(x))


def freeze(module: nn.Module) -> nn.Module:
    """Stop training ``module``: every parameter gets ``requires_grad = False``. Returns ``module``.

    ``module.eval()`` does *not* freeze anything: it only switches dropout and
    batch-norm to inference behaviour, and an optimizer that holds the
    parameters still changes them. A frozen module's batch-norm running
    statistics still move in train mode; keep such a backbone in ``eval()`` too.
    """
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Undo ``freeze``: every parameter of ``module`` gets ``requires_grad = True``. Returns ``module``."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def replace_head(model: nn.Module, num_classes: int, name: str = "fc", seed: int | None = None) -> nn.Linear:
    """Put a new, freshly initialised ``nn.Linear(in_features, num_classes)`` in place of ``model.<name>``.

    The new head reads the same features as the old one, so ``in_features`` is
    kept; only the number of outputs changes to the target task's classes.

    Returns:
        the new head (trainable, on the old head's device and dtype).
    Shape:
        old head (in_features -> K_source) -> new head (in_features -> num_classes).
    """
    old = getattr(model, name, None)
    if not isinstance(old, nn.Linear):
        raise ValueError(f"replace_head expects model.{name} to be an nn.Linear head, "
                         f"got {type(old).__name__}")
    if seed is not None:
        torch.manual_seed(seed)
    head = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    head = head.to(device=old.weight.device, dtype=old.weight.dtype)
    setattr(model, name, head)
    return head


def param_groups(model: nn.Module, backbone_lr: float, head_lr: float, head: str = "fc") -> list[dict]:
    """Optimizer parameter groups: the head at ``head_lr``, everything else at ``backbone_lr``.

    Frozen parameters (``requires_grad`` False) are left out, so an optimizer
    built from the groups cannot change them (weight decay and momentum would).
    A group with no trainable parameter is dropped.

    Returns:
        ``[{"params": [...], "lr": backbone_lr}, {"params": [...], "lr": head_lr}]``,
        ready for ``torch.optim.Adam(param_groups(...))``.
    """
    head_ids = {id(p) for p in getattr(model, head).parameters()}
    backbone = [p for p in model.parameters() if id(p) not in head_ids and p.requires_grad]
    top = [p for p in getattr(model, head).parameters() if p.requires_grad]
    return [g for g in ({"params": backbone, "lr": backbone_lr}, {"params": top, "lr": head_lr}) if g["params"]]


def tensors(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    """numpy images in [0, 1] and labels as the (float32, int64) tensor pair ``fit`` and ``evaluate`` take.

    Unlike ``image_tensors`` (uint8 pixels mapped to [-1, 1]) the pixel values are kept.

    Shape:
        x (N, C, H, W), y (N,) -> (N, C, H, W) float32, (N,) int64.
    """
    return (torch.as_tensor(np.asarray(x), dtype=torch.float32),
            torch.as_tensor(np.asarray(y), dtype=torch.int64))


def accuracy(model: nn.Module, x, y) -> float:
    """Fraction of the numpy images ``x`` that ``model`` classifies as ``y`` (``evaluate``'s accuracy)."""
    return evaluate(model, tensors(x, y))["accuracy"]


def train_source_model(split=None, epochs: int = SOURCE_TRAINING["epochs"],
                       batch_size: int = SOURCE_TRAINING["batch_size"], lr: float = SOURCE_TRAINING["lr"],
                       seed: int = SOURCE_TRAINING["seed"]) -> SmallCNN:
    """Train a ``SmallCNN`` on a source task (default: ``nnlib.data.mnist_5k()``); about 15 s on one core.

    With the defaults this makes the shipped checkpoint (see ``load_source_model``).
    """
    from ..data import mnist_5k

    split = mnist_5k() if split is None else split
    torch.manual_seed(seed)
    model = SmallCNN(num_classes=int(np.max(split.y_train)) + 1)
    fit(model, tensors(split.x_train, split.y_train), epochs=epochs, batch_size=batch_size, lr=lr,
        progress=False, seed=seed)
    return model.eval()


def make_checkpoint(path=CHECKPOINT) -> tuple[str, float]:
    """Retrain the source model with the defaults (one torch thread) and save it; return (sha256, test accuracy)."""
    from ..data import mnist_5k
    from .checkpoint import save_checkpoint

    threads = torch.get_num_threads()
    torch.set_num_threads(1)                    # the recorded accuracy was measured this way
    try:
        split = mnist_5k()
        model = train_source_model(split)
    finally:
        torch.set_num_threads(threads)
    test_accuracy = accuracy(model, split.x_test, split.y_test)
    save_checkpoint(path, model, training=dict(SOURCE_TRAINING), data="nnlib.data.mnist_5k()",
                    test_accuracy=test_accuracy)
    return sha256(path), test_accuracy


def sha256(path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_source_model(path=CHECKPOINT, expected_sha256: str | None = CHECKPOINT_SHA256) -> SmallCNN:
    """The shipped MNIST-5k ``SmallCNN`` (made by ``train_source_model()``), after checking its sha256."""
    if expected_sha256 is not None and sha256(path) != expected_sha256:
        raise ValueError(f"{path}: sha256 is {sha256(path)}, expected {expected_sha256}; "
                         "the file is damaged or was replaced: remake it with make_checkpoint()")
    model = SmallCNN()
    load_checkpoint(path, model, map_location="cpu")
    return model.eval()


METHODS = ("scratch", "linear probe", "fine-tune")


def target_model(method: str, source: nn.Module, num_classes: int, lr: float = 1e-3,
                 backbone_lr: float = 1e-4, head_lr: float = 1e-2, seed: int = 0):
    """A model and optimizer for the target task, made one of three ways from ``source``.

    - ``"scratch"``: a fresh model of ``source``'s class, every parameter at ``lr``;
    - ``"linear probe"``: a copy of ``source``, new head, frozen backbone; only the head trains, at ``head_lr``;
    - ``"fine-tune"``: a copy of ``source``, new head at ``head_lr``, backbone at ``backbone_lr``.

    ``source`` itself is never changed. Returns ``(model, torch.optim.Adam)``.
    """
    import copy

    if method not in METHODS:
        raise ValueError(f"target_model: method must be one of {METHODS}, got {method!r}")
    torch.manual_seed(seed)
    if method == "scratch":
        device = next(source.parameters()).device                 # a GPU source gives a GPU target model
        model = type(source)(num_classes=num_classes).to(device)
        return model, torch.optim.Adam(model.parameters(), lr=lr)
    model = copy.deepcopy(source)
    replace_head(model, num_classes)
    if method == "linear probe":
        freeze(model)
        unfreeze(model.fc)
    return model, torch.optim.Adam(param_groups(model, backbone_lr, head_lr))


def few_label_accuracy(method: str, source: nn.Module, target, per_class: int, draw: int,
                       epochs: int = 100, **kwargs) -> float:
    """Test accuracy on ``target`` after training on ``per_class`` labelled examples of each class.

    The labelled examples are draw number ``draw`` of ``nnlib.data.per_class_subset``
    from ``target.x_train``; training is full-batch, ``epochs`` steps; ``kwargs``
    go to ``target_model``.

    Shape:
        target: a ``Split`` of images (N, 1, 28, 28) and labels (N,).
    """
    from ..data import per_class_subset

    idx = per_class_subset(target.y_train, per_class, rng=draw)
    num_classes = int(np.max(target.y_train)) + 1
    model, opt = target_model(method, source, num_classes, seed=1000 + draw, **kwargs)
    fit(model, tensors(target.x_train[idx], target.y_train[idx]), epochs=epochs, batch_size=len(idx),
        optimizer=opt, progress=False, seed=draw)
    return accuracy(model, target.x_test, target.y_test)


def few_label_comparison(source: nn.Module, target, per_class=(1, 3, 10), draws: int = 3,
                         methods=METHODS, **kwargs) -> dict[tuple[str, int], np.ndarray]:
    """Every method at every number of labels per class, over ``draws`` draws of the labelled set.

    Returns:
        ``{(method, k): accuracies}``, each an array of shape (draws,); the same
        draws (the same labelled images) for every method.
    """
    return {(m, k): np.array([few_label_accuracy(m, source, target, k, d, **kwargs) for d in range(draws)])
            for k in per_class for m in methods}
