"""IDX image sets: the file format of MNIST and Fashion-MNIST, and where to find them offline.

An IDX file is a 4-byte header ``0 0 <dtype code> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the array in C order, big-endian. The files
are usually gzip-compressed (``train-images-idx3-ubyte.gz``).

Fashion-MNIST (Xiao et al., 2017: 60k training + 10k test images of 28x28
clothing, 10 classes) is found, in this order, in the directory the caller
names, in Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist/``), or downloaded through torchvision
when the caller asks for it. ``digits_28x28`` is the offline alternative
with the same shapes. numpy only: no torch here.
"""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .data import Split, digits_like_mnist
from .module import shape_str

# dtype code in the header -> big-endian numpy dtype
IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzip-compressed when its name ends in ``.gz``).

    Returns the array in native byte order: uint8 images and labels stay
    uint8, wider types keep their kind (int16, int32, float32, float64).

    Shape:
        an ``idx3`` file of n images of r x c pixels -> (n, r, c); an ``idx1``
        file of n labels -> (n,).

    Raises:
        ValueError when the header is not an IDX header or the data does not
        have the size the header announces.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: expected a header 00 00 <dtype code in "
                         f"{sorted(hex(c) for c in IDX_DTYPES)}> <ndim>, got {raw[:4].hex(' ') or 'an empty file'}")
    dtype, ndim = IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: the header announces {ndim} dimensions but the file ends "
                         f"after {len(raw)} bytes, before their sizes")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"{path}: the header announces an array of shape {shape_str(shape)} "
                         f"({expected} bytes with the header), but the file has {len(raw)} bytes")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def _load_fashion_mnist_from(directory: Path) -> Split | None:
    paths = {key: _find_idx(directory, stem) for key, stem in FASHION_MNIST_FILES.items()}
    if any(p is None for p in paths.values()):
        return None
    arrays = {key: read_idx(p) for key, p in paths.items()}
    return Split(arrays["x_train"], arrays["y_train"].astype(np.int64),
                 arrays["x_test"], arrays["y_test"].astype(np.int64))


def fashion_mnist(root=None, download: bool = False) -> Split:
    """Fashion-MNIST: 60000 training and 10000 test images of 28x28 pixels, 10 classes.

    Looks for the four standard IDX files (``train-images-idx3-ubyte[.gz]``,
    ...) in ``root`` and ``root/FashionMNIST/raw`` (torchvision's layout),
    then in Debian's ``/usr/share/datasets/fashion-mnist/``. Only with
    ``download=True`` does it fetch them, through torchvision, into ``root``
    (default ``~/.cache/nnlib``); the course itself never downloads.

    Class names are in ``FASHION_MNIST_CLASSES``.

    Shape:
        -> x_train (60000, 28, 28) uint8 in 0..255, y_train (60000,) int64,
        x_test (10000, 28, 28), y_test (10000,).

    Raises:
        FileNotFoundError naming every place it looked and the offline
        alternatives, when the files are nowhere.
    """
    places = []
    if root is not None:
        places += [Path(root).expanduser(), Path(root).expanduser() / "FashionMNIST" / "raw"]
    places.append(DEBIAN_FASHION_MNIST)
    for place in places:
        found = _load_fashion_mnist_from(place)
        if found is not None:
            return found
    if download:
        target = Path(root if root is not None else "~/.cache/nnlib").expanduser()
        try:
            from torchvision.datasets import FashionMNIST  # lazy and optional: the course does not install it
        except ImportError:
            raise ImportError("fashion_mnist(download=True) downloads through torchvision, which is not "
                              "installed (the course does not need it): `pip install torchvision`, or "
                              "install Debian's package: `sudo apt-get install dataset-fashion-mnist`") from None
        for train in (True, False):
            FashionMNIST(str(target), train=train, download=True)
        found = _load_fashion_mnist_from(target / "FashionMNIST" / "raw")
        if found is not None:
            return found
        places.append(target / "FashionMNIST" / "raw")
    looked = ", ".join(str(p) for p in places)
    raise FileNotFoundError(
        f"Fashion-MNIST's IDX files ({FASHION_MNIST_FILES['x_train']}[.gz] and three more) are not in "
        f"{looked}. Install Debian's package (`sudo apt-get install dataset-fashion-mnist`), pass "
        "root= the directory that holds them, or, with internet and torchvision, download=True. "
        "Offline alternative with the same shapes: nnlib.idx.digits_28x28().")


def digits_28x28(test_fraction: float = 0.25, rng=0) -> Split:
    """scikit-learn's bundled 8x8 digits in Fashion-MNIST's file format: the offline fallback.

    The same images as ``nnlib.data.digits_like_mnist`` (each digit resized to
    20x20 and centred in a 28x28 frame, as MNIST does), stored as IDX files
    store them: uint8 pixels 0..255, no channel axis. 1797 images, 10 classes.

    Shape:
        -> x_* (N, 28, 28) uint8, y_* (N,) int64 in {0, ..., 9}.
    """
    split = digits_like_mnist(test_fraction, rng)
    as_idx = lambda x: np.round(x[:, 0] * 255.0).astype(np.uint8)  # noqa: E731  (N, 1, 28, 28) [0, 1] -> (N, 28, 28)
    return Split(as_idx(split.x_train), split.y_train, as_idx(split.x_test), split.y_test)
