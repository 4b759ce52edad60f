"""Where to run, and reproducible randomness: the first lines of every PyTorch-path script.

``pick_device`` prefers a CUDA GPU, then Apple's MPS, then the CPU, and says
what it picked and why, so a student whose lab runs slowly sees at once that
it is on the CPU.
"""
from __future__ import annotations

import random

import numpy as np
import torch

KINDS = ("cuda", "mps", "cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _cuda_description(device: torch.device) -> str:
    index = device.index if device.index is not None else torch.cuda.current_device()
    props = torch.cuda.get_device_properties(index)
    return f"{torch.cuda.get_device_name(index)}, {props.total_memory / 2**30:.0f} GiB"


def pick_device(prefer: str | None = None, verbose: bool = True) -> torch.device:
    """The device to train on: CUDA if there is a GPU, else Apple MPS, else the CPU.

    Args:
        prefer: ``None`` to choose automatically, or ``"cuda"``, ``"cuda:1"``,
            ``"mps"``, ``"cpu"`` to insist; insisting on a device that is not
            there is an error, not a silent fall-back.
        verbose: print one line saying what was picked and why.

    Raises:
        ValueError for a name that is not a device kind; RuntimeError when
        the preferred device is not available.
    """
    if prefer is None:
        if torch.cuda.is_available():
            device, why = torch.device("cuda"), None
        elif _mps_available():
            device, why = torch.device("mps"), "no CUDA GPU found; Apple MPS is available"
        else:
            device, why = torch.device("cpu"), "no CUDA GPU found, using the CPU (the labs use their small configuration)"
    else:
        kind = str(prefer).split(":")[0]
        if kind not in KINDS:
            raise ValueError(f"pick_device(prefer={prefer!r}): expected None, 'cuda', 'cuda:N', 'mps' or 'cpu'")
        if kind == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"pick_device(prefer={prefer!r}): no CUDA GPU is available "
                               "(torch.cuda.is_available() is False); use prefer=None to fall back")
        if kind == "mps" and not _mps_available():
            raise RuntimeError(f"pick_device(prefer={prefer!r}): Apple MPS is not available; "
                               "use prefer=None to fall back")
        device, why = torch.device(str(prefer)), "as asked"
        if kind == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(f"pick_device(prefer={prefer!r}): there are only "
                               f"{torch.cuda.device_count()} CUDA devices")
    if verbose:
        if device.type == "cuda":
            print(f"using {device} ({_cuda_description(device)})" + (f", {why}" if why else ""))
        else:
            print(f"using {device}: {why}")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (every GPU's too).

    cuDNN may still pick non-deterministic algorithms; runs repeat to within
    float rounding, not bit for bit, on a GPU.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
