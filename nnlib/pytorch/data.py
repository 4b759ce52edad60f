"""Data for the PyTorch path: image sets as tensors on the device, and a text corpus for the char model.

The IDX reader and the image sets themselves are numpy-only, in ``nnlib.idx``.
"""
from __future__ import annotations

import os
import sysconfig
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F


def image_tensors(x, y, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images and labels as float32 and int64 tensors on ``device``.

    Pixels 0..255 are mapped to [-1, 1] (fixed scaling, the same for the
    training and the test set).

    Shape:
        x (N, H, W) or (N, C, H, W), y (N,) -> (N, C, H, W) float32, (N,) int64.
    """
    x = torch.as_tensor(np.asarray(x))
    if x.dim() == 3:
        x = x.unsqueeze(1)                                         # (N, 1, H, W)
    if x.dim() != 4:
        raise ValueError(f"image_tensors got images of shape {tuple(x.shape)}; expected (N, H, W) or (N, C, H, W)")
    x = x.to(device=device, dtype=torch.float32).div_(127.5).sub_(1.0)
    return x, torch.as_tensor(np.asarray(y), dtype=torch.int64, device=device)


class Corpus(NamedTuple):
    """A text and its character vocabulary.

    ``encode(str) -> (len,) int64 tensor`` and ``decode(ids) -> str`` map
    between characters and their indices in ``vocab``.
    """

    text: str
    vocab: str
    encode: Callable[[str], torch.Tensor]
    decode: Callable[..., str]


def char_vocabulary(text: str) -> tuple[str, Callable, Callable]:
    """``(vocab, encode, decode)`` for the characters of ``text``, sorted by code point."""
    vocab = "".join(sorted(set(text)))
    index = {ch: i for i, ch in enumerate(vocab)}

    def encode(s: str) -> torch.Tensor:
        try:
            return torch.tensor([index[ch] for ch in s], dtype=torch.int64)
        except KeyError as err:
            raise ValueError(f"encode: character {err.args[0]!r} is not in the vocabulary of "
                             f"{len(vocab)} characters") from None

    def decode(ids) -> str:
        return "".join(vocab[int(i)] for i in torch.as_tensor(ids).reshape(-1).tolist())

    return vocab, encode, decode


def python_corpus(max_chars: int = 1_000_000, ascii_only: bool = True) -> Corpus:
    """The Python standard library's own source as a text corpus, the first ``max_chars`` characters.

    The ``.py`` files under the standard library's directory (its tests and
    site-packages left out) are taken in sorted path order, so the corpus is
    the same on every run of the same Python version (about 12 M characters
    in all). With ``ascii_only`` the few non-ASCII characters (names in
    comments, test strings) are dropped, which keeps the vocabulary to about
    100 characters.
    """
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}
    files = []
    for folder, subfolders, names in os.walk(stdlib):
        subfolders[:] = [d for d in subfolders if d not in skip]        # prune: site-packages is large
        files += [Path(folder) / n for n in names if n.endswith(".py")]
    files.sort()
    parts, size = [], 0
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        if ascii_only:
            text = text.encode("ascii", errors="ignore").decode("ascii")
        parts.append(text)
        size += len(text)
        if size >= max_chars:
            break
    text = "".join(parts)[:max_chars]
    if len(text) < max_chars:
        raise ValueError(f"python_corpus: the standard library at {stdlib} has only {len(text)} characters "
                         f"of source; asked for {max_chars}")
    return Corpus(text, *char_vocabulary(text))


def next_char_pairs(ids: torch.Tensor, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut a long id sequence into inputs and next-character targets for ``fit``.

    Row i of x is ``ids[i*T : (i+1)*T]`` and row i of y the same window shifted
    by one character; the tail that does not fill a row is dropped.

    Shape:
        ids (L,) -> x (N, T), y (N, T) with N = (L - 1) // T.
    """
    ids = torch.as_tensor(ids).reshape(-1)
    n = (len(ids) - 1) // seq_len
    if n < 1:
        raise ValueError(f"next_char_pairs: {len(ids)} ids do not fill one window of seq_len={seq_len} "
                         "plus its next character")
    x = ids[:n * seq_len].reshape(n, seq_len)                           # (N, T)
    y = ids[1:n * seq_len + 1].reshape(n, seq_len)                      # (N, T)
    return x, y


def flip_and_shift(x: torch.Tensor, max_shift: int = 2, fill: float = -1.0,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a batch on its device: a random left-right flip and a random shift per image.

    Each image is mirrored with probability 1/2 and moved by up to
    ``max_shift`` pixels in each direction, the uncovered border filled with
    ``fill`` (-1 is black after ``image_tensors``). A shirt is still a shirt
    mirrored or a little off-centre; the network has to learn that from data.

    Shape:
        (N, C, H, W) -> (N, C, H, W).
    """
    if x.dim() != 4:
        raise ValueError(f"flip_and_shift got a batch of shape {tuple(x.shape)}; expected (N, C, H, W)")
    n, _, h, w = x.shape
    flip = torch.rand(n, device=x.device, generator=generator) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    s = max_shift
    padded = F.pad(x, (s, s, s, s), value=fill)                          # (N, C, H+2s, W+2s)
    dy, dx = torch.randint(0, 2 * s + 1, (2, n), device=x.device, generator=generator)
    rows = dy[:, None] + torch.arange(h, device=x.device)               # (N, H)
    cols = dx[:, None] + torch.arange(w, device=x.device)               # (N, W)
    out = padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2)                                      # (N, H, W, C) -> (N, C, H, W)
