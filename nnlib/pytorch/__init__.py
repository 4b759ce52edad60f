"""The PyTorch path: the course's ideas at scale, on a GPU when there is one.

Device choice and seeds (``device``), the training loop (``train``),
checkpoints (``checkpoint``), the lab models (``models``) and data on the
device (``data``). This is the only part of nnlib that imports torch; import
it explicitly: ``from nnlib import pytorch as nt``.
"""
from .device import pick_device, seed_everything
from .train import cross_entropy_last_dim, evaluate, fit
from .checkpoint import load_checkpoint, save_checkpoint
from .models import CharLSTM, LSTMCellLoop, ResidualBlock, ResNet
from .data import Corpus, char_vocabulary, flip_and_shift, image_tensors, next_char_pairs, python_corpus
from ..idx import digits_28x28, fashion_mnist, read_idx

__all__ = [
    "pick_device", "seed_everything",
    "fit", "evaluate", "cross_entropy_last_dim",
    "save_checkpoint", "load_checkpoint",
    "ResNet", "ResidualBlock", "CharLSTM", "LSTMCellLoop",
    "image_tensors", "flip_and_shift", "python_corpus", "Corpus", "char_vocabulary", "next_char_pairs", "read_idx", "fashion_mnist", "digits_28x28",
]
