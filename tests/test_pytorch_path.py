"""The PyTorch path (nnlib.pytorch) and the IDX image sets (nnlib.idx), on the CPU.

GPUs are mocked where device choice is tested; fit, evaluate and checkpoints
run on small synthetic tasks in a few seconds. Oracles: torch's own
cross-entropy, parameter counts computed from the layer shapes, IDX files
written byte by byte here.
"""
import gzip
import math
import struct
import subprocess
import sys

import numpy as np
import pytest
from torch_oracle import one_torch_thread  # noqa: F401  (a fixture)
import torch
import torch.nn.functional as F
from torch import nn

import nnlib.idx as idx
from nnlib import pytorch as nt

pytestmark = pytest.mark.unit03


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    """Every test here runs torch on one thread."""


def blobs(n=512, d=8, classes=4, seed=0):
    """Gaussian clusters: a task a small MLP solves in a few epochs."""
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(classes, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return centres[y] + torch.randn(n, d, generator=g), y


def mlp(d=8, classes=4, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Linear(32, classes))


# -- import cost --------------------------------------------------------------

def test_import_nnlib_and_idx_does_not_import_torch():
    code = "import sys, nnlib, nnlib.idx; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# -- device and seeds ---------------------------------------------------------

def mock_devices(monkeypatch, cuda: bool, mps: bool):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: int(cuda))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Mock H100")
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda i=0: type("Props", (), {"total_memory": 80 * 2**30})())
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize("cuda, mps, want", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch, capsys, cuda, mps, want):
    mock_devices(monkeypatch, cuda, mps)
    assert nt.pick_device().type == want
    said = capsys.readouterr().out
    if want == "cuda":
        assert "Mock H100" in said and "80 GiB" in said
    elif want == "cpu":
        assert "no CUDA GPU found, using the CPU" in said


def test_pick_device_is_quiet_when_asked(monkeypatch, capsys):
    mock_devices(monkeypatch, False, False)
    nt.pick_device(verbose=False)
    assert capsys.readouterr().out == ""


def test_pick_device_honours_and_checks_prefer(monkeypatch):
    mock_devices(monkeypatch, False, False)
    assert nt.pick_device("cpu", verbose=False) == torch.device("cpu")
    with pytest.raises(ValueError, match="expected None, 'cuda'"):
        nt.pick_device("tpu")
    with pytest.raises(RuntimeError, match="no CUDA GPU is available"):
        nt.pick_device("cuda")
    with pytest.raises(RuntimeError, match="MPS is not available"):
        nt.pick_device("mps")
    mock_devices(monkeypatch, True, False)
    assert nt.pick_device("cuda:0", verbose=False) == torch.device("cuda:0")
    with pytest.raises(RuntimeError, match="only 1 CUDA devices"):
        nt.pick_device("cuda:3")


def test_seed_everything_repeats_every_generator():
    import random
    draws = []
    for _ in range(2):
        nt.seed_everything(123)
        draws.append((random.random(), np.random.rand(), torch.rand(3).tolist()))
    assert draws[0] == draws[1]
    nt.seed_everything(124)
    assert torch.rand(3).tolist() != draws[0][2]


# -- fit and evaluate ---------------------------------------------------------

HISTORY_KEYS = {"loss", "accuracy", "val_loss", "val_accuracy", "seconds", "images_or_tokens_per_s"}


def test_fit_learns_blobs_and_reports_every_key():
    xa, ya = blobs(n=1024)                       # one draw: the validation half shares the clusters
    x, y, xv, yv = xa[:512], ya[:512], xa[512:], ya[512:]
    h = nt.fit(mlp(), (x, y), (xv, yv), epochs=6, batch_size=64, lr=1e-2, progress=False)
    assert set(h) == HISTORY_KEYS and all(len(v) == 6 for v in h.values())
    assert h["loss"][-1] < 0.3 * h["loss"][0]
    assert h["accuracy"][-1] > 0.9 and h["val_accuracy"][-1] > 0.9
    assert all(s > 0 for s in h["seconds"]) and all(r > 0 for r in h["images_or_tokens_per_s"])


def test_fit_without_val_records_nan():
    x, y = blobs()
    h = nt.fit(mlp(), (x, y), epochs=1, progress=False)
    assert math.isnan(h["val_loss"][0]) and math.isnan(h["val_accuracy"][0])


def test_fit_is_reproducible_with_a_seed():
    x, y = blobs()
    runs = [nt.fit(mlp(seed=1), (x, y), epochs=2, batch_size=32, progress=False, seed=5)["loss"] for _ in range(2)]
    assert runs[0] == runs[1]
    other = nt.fit(mlp(seed=1), (x, y), epochs=2, batch_size=32, progress=False, seed=6)["loss"]
    assert other != runs[0]


class NextToken(nn.Module):
    """Predicts token t+1 from token t; returns (logits, state) like a recurrent model."""

    def __init__(self, vocab=5):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.head = nn.Linear(16, vocab)

    def forward(self, x, state=None):
        return self.head(self.embed(x)), state          # (N, T, V)


def test_fit_trains_sequence_logits_against_token_targets():
    torch.manual_seed(0)
    seq = torch.arange(40 * 8 + 1) % 5                          # 0 1 2 3 4 0 1 ...: next = (t + 1) % 5
    x, y = seq[:-1].reshape(40, 8), seq[1:].reshape(40, 8)
    model = NextToken()
    h = nt.fit(model, (x, y), epochs=20, batch_size=8, lr=3e-2, progress=False)
    assert h["accuracy"][-1] == 1.0 and h["loss"][-1] < 0.2 * h["loss"][0]
    assert h["images_or_tokens_per_s"][-1] > 0
    scores = nt.evaluate(model, (x, y))
    with torch.no_grad():
        logits = model(x)[0]
    assert scores["accuracy"] == 1.0
    assert scores["loss"] == pytest.approx(F.cross_entropy(logits.reshape(-1, 5), y.reshape(-1)).item(), rel=1e-5)


def test_fit_stops_at_max_steps_and_on_request():
    x, y = blobs(n=256)
    model = mlp()
    before = [p.detach().clone() for p in model.parameters()]
    h = nt.fit(model, (x, y), epochs=5, batch_size=64, max_steps=2, progress=False)
    assert len(h["loss"]) == 1 and any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    calls = []
    h = nt.fit(mlp(), (x, y), epochs=5, progress=False, on_epoch_end=lambda e, hist: calls.append(e) or e == 2)
    assert calls == [1, 2] and len(h["loss"]) == 2


def test_fit_onecycle_grad_clip_and_augment_run():
    x, y = blobs()
    seen = []
    h = nt.fit(mlp(), (x, y), epochs=3, lr=1e-2, schedule="onecycle", grad_clip=1.0, progress=False,
               augment=lambda xb: seen.append(len(xb)) or xb + 0.01 * torch.randn_like(xb))
    assert h["loss"][-1] < h["loss"][0] and sum(seen) == 3 * len(x)
    with pytest.raises(ValueError, match="'constant' or 'onecycle'"):
        nt.fit(mlp(), (x, y), schedule="cosine", progress=False)


def test_fit_rejects_mismatched_data():
    x, y = blobs()
    with pytest.raises(ValueError, match="same number of rows"):
        nt.fit(mlp(), (x, y[:-1]), progress=False)
    with pytest.raises(TypeError, match="pair of tensors"):
        nt.fit(mlp(), x, progress=False)


def test_amp_and_channels_last_are_ignored_safely_on_the_cpu():
    torch.manual_seed(0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    runs = []
    for flags in ({}, {"amp": True, "channels_last": True}):
        nt.seed_everything(0)
        model = nt.ResNet(widths=(4, 8), blocks_per_stage=1)
        runs.append(nt.fit(model, (x, y), epochs=1, batch_size=32, progress=False, **flags)["loss"])
        assert model.stem[0].weight.is_contiguous()            # not converted to channels_last
    assert runs[0] == runs[1]


def test_evaluate_matches_torch_cross_entropy_and_restores_mode():
    x, y = blobs()
    model = mlp()
    model.train()
    scores = nt.evaluate(model, (x, y), batch_size=100)
    with torch.no_grad():
        logits = model(x)
    assert scores["loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-5)
    assert scores["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
    assert model.training


def test_cross_entropy_last_dim_names_the_shapes():
    with pytest.raises(ValueError, match=r"expected targets of shape \(4, 7\)"):
        nt.cross_entropy_last_dim(torch.zeros(4, 7, 3), torch.zeros(4, dtype=torch.long))


# -- checkpoints --------------------------------------------------------------

def test_checkpoint_round_trip_restores_identical_outputs(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    model = nt.ResNet(widths=(4, 8), blocks_per_stage=1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    history = nt.fit(model, (x, y), epochs=2, batch_size=16, optimizer=opt, progress=False,
                     checkpoint=tmp_path / "every_epoch.pt")
    nt.save_checkpoint(tmp_path / "ck.pt", model, opt, epoch=2, note="lab", history=history)
    assert nt.load_checkpoint(tmp_path / "every_epoch.pt", nt.ResNet(widths=(4, 8)))["epoch"] == 2

    torch.manual_seed(1)
    fresh = nt.ResNet(widths=(4, 8), blocks_per_stage=1)
    fresh_opt = torch.optim.AdamW(fresh.parameters(), lr=1e-2)
    model.eval(), fresh.eval()
    assert not torch.equal(model(x), fresh(x))
    extra = nt.load_checkpoint(tmp_path / "ck.pt", fresh, fresh_opt)
    assert extra["epoch"] == 2 and extra["note"] == "lab" and extra["history"]["loss"] == history["loss"]
    assert torch.equal(model(x), fresh(x))                         # batch-norm running stats too
    saved, loaded = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k]["exp_avg"], loaded[k]["exp_avg"]) for k in saved)


def test_loading_another_architecture_says_what_does_not_fit(tmp_path):
    nt.save_checkpoint(tmp_path / "small.pt", nt.ResNet(widths=(4, 8)))
    with pytest.raises(ValueError, match=r"saved from a ResNet.*stem.0.weight is \(4, 1, 3, 3\) in the checkpoint "
                                         r"but \(8, 1, 3, 3\) in the model"):
        nt.load_checkpoint(tmp_path / "small.pt", nt.ResNet(widths=(8, 16)))
    with pytest.raises(ValueError, match="unexpected blocks.2"):
        nt.save_checkpoint(tmp_path / "three.pt", nt.ResNet(widths=(4, 8, 8)))
        nt.load_checkpoint(tmp_path / "three.pt", nt.ResNet(widths=(4, 8)))
    with pytest.raises(ValueError, match="no optimizer state"):
        model = nt.ResNet(widths=(4, 8))
        nt.load_checkpoint(tmp_path / "small.pt", model, torch.optim.SGD(model.parameters(), lr=0.1))


# -- ResNet -------------------------------------------------------------------

def resnet_parameter_count(in_channels, num_classes, widths, blocks_per_stage):
    """Counted from the layer shapes: 3x3 convolutions without bias, batch norm (weight, bias), the head."""
    total = 9 * in_channels * widths[0] + 2 * widths[0]
    c_in = widths[0]
    for i, c in enumerate(widths):
        for j in range(blocks_per_stage):
            total += 9 * c_in * c + 2 * c + 9 * c * c + 2 * c
            if c_in != c or (i > 0 and j == 0):
                total += c_in * c + 2 * c
            c_in = c
    return total + widths[-1] * num_classes + num_classes


@pytest.mark.parametrize("in_channels, num_classes, widths, blocks", [
    (1, 10, (16, 32, 64), 1), (1, 10, (8, 16), 2), (3, 5, (4, 8, 16, 16), 1), (1, 10, (64, 128, 256), 2)])
def test_resnet_shapes_and_parameter_count(in_channels, num_classes, widths, blocks):
    model = nt.ResNet(in_channels, num_classes, widths, blocks)
    assert sum(p.numel() for p in model.parameters()) == resnet_parameter_count(in_channels, num_classes,
                                                                                widths, blocks)
    if widths[-1] <= 64:
        x = torch.randn(3, in_channels, 28, 28)
        feats = model.blocks(model.stem(x))
        side = 28
        for _ in widths[1:]:
            side = 1 + (side - 1) // 2
        assert feats.shape == (3, widths[-1], side, side)
        assert model(x).shape == (3, num_classes)


def test_resnet_names_a_wrong_input_shape():
    with pytest.raises(ValueError, match=r"ResNet\(in_channels=1\) got input of shape \(2, 3, 28, 28\); "
                                         r"expected \(N, 1, H, W\)"):
        nt.ResNet()(torch.zeros(2, 3, 28, 28))


def test_residual_block_is_identity_plus_branch():
    """With the branch's last batch norm zeroed, a block passes relu(x) through unchanged."""
    block = nt.ResidualBlock(4, 4).eval()
    nn.init.zeros_(block.bn2.weight)
    x = torch.randn(2, 4, 7, 7)
    assert torch.equal(block(x), F.relu(x))


# -- IDX files and image sets -------------------------------------------------

def write_idx(path, array, code):
    """An IDX file written byte by byte: 0 0 code ndim, big-endian sizes, big-endian data."""
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    raw = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw += np.asarray(array, dtype=dtype).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(raw)


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("code, shape", [(0x08, (5, 4, 3)), (0x08, (7,)), (0x0B, (3, 2)), (0x0C, (4,)),
                                         (0x0D, (2, 3)), (0x0E, (2, 2, 2))])
def test_read_idx_reads_what_was_written(tmp_path, suffix, code, shape):
    rng = np.random.default_rng(code)
    want = rng.integers(0, 250, shape) if code in (0x08,) else rng.normal(size=shape) * 100
    if code in (0x0B, 0x0C):
        want = want.astype(np.int64)
    path = tmp_path / f"x-idx{len(shape)}{suffix}"
    write_idx(path, want, code)
    got = idx.read_idx(path)
    assert got.shape == shape and got.dtype.isnative
    np.testing.assert_allclose(got, want.astype(got.dtype))
    if code == 0x08:
        assert got.dtype == np.uint8


def test_read_idx_rejects_malformed_files(tmp_path):
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file: expected a header 00 00"):
        idx.read_idx(tmp_path / "text")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        idx.read_idx(tmp_path / "empty")
    write_idx(tmp_path / "short", np.zeros((4, 3)), 0x08)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-2])
    with pytest.raises(ValueError, match=r"shape \(4, 3\) \(24 bytes with the header\), but the file has 22"):
        idx.read_idx(tmp_path / "short")
    (tmp_path / "cut").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="announces 3 dimensions"):
        idx.read_idx(tmp_path / "cut")


def write_fashion_like(directory, n_train=6, n_test=4, gz=True):
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28)), "y_train": rng.integers(0, 10, n_train),
              "x_test": rng.integers(0, 256, (n_test, 28, 28)), "y_test": rng.integers(0, 10, n_test)}
    for key, stem in idx.FASHION_MNIST_FILES.items():
        write_idx(directory / (stem + (".gz" if gz else "")), arrays[key], 0x08)
    return arrays


@pytest.mark.parametrize("layout, gz", [(".", True), (".", False), ("FashionMNIST/raw", True)])
def test_fashion_mnist_reads_the_root_it_is_given(tmp_path, monkeypatch, layout, gz):
    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    want = write_fashion_like(tmp_path / layout, gz=gz)
    got = idx.fashion_mnist(root=tmp_path)
    for key in idx.FASHION_MNIST_FILES:
        np.testing.assert_array_equal(getattr(got, key), want[key])
    assert got.x_train.dtype == np.uint8 and got.y_train.dtype == np.int64


def test_fashion_mnist_says_where_it_looked_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "DEBIAN_FASHION_MNIST", tmp_path / "debian")
    with pytest.raises(FileNotFoundError) as err:
        idx.fashion_mnist(root=tmp_path / "mine")
    msg = str(err.value)
    assert str(tmp_path / "mine") in msg and str(tmp_path / "debian") in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "digits_28x28" in msg
    monkeypatch.setitem(sys.modules, "torchvision", None)        # not installed: the download path says so
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(ImportError, match="downloads through torchvision, which is not installed"):
        idx.fashion_mnist(root=tmp_path / "mine", download=True)


@pytest.mark.skipif(not idx.DEBIAN_FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package():
    d = idx.fashion_mnist()
    assert d.x_train.shape == (60000, 28, 28) and d.x_test.shape == (10000, 28, 28)
    assert np.bincount(d.y_train).tolist() == [6000] * 10 and np.bincount(d.y_test).tolist() == [1000] * 10


def test_digits_28x28_are_the_mnist_like_digits_in_idx_format():
    from sklearn.datasets import load_digits
    d = idx.digits_28x28(test_fraction=0.25, rng=0)
    assert d.x_train.shape[1:] == (28, 28) and d.x_train.dtype == np.uint8 and d.y_train.dtype == np.int64
    assert len(d.x_train) + len(d.x_test) == 1797
    assert (d.x_train[:, :4] == 0).all() and (d.x_train[:, :, 24:] == 0).all()   # MNIST's 4-pixel frame
    # Block means of the central 20x20 box recover the 8x8 originals (up to resampling blur).
    small = d.x_train[:, 4:24, 4:24].astype(np.float64) * 16 / 255
    originals = load_digits()
    lookup = {t: [] for t in range(10)}
    for im, t in zip(originals.images, originals.target):
        lookup[t].append(im)
    for s, t in zip(small[:20], d.y_train[:20]):
        coarse = np.array([[s[r * 20 // 8:(r + 1) * 20 // 8, c * 20 // 8:(c + 1) * 20 // 8].mean() for c in range(8)]
                           for r in range(8)])
        distances = {k: min(np.abs(coarse - im).mean() for im in ims) for k, ims in lookup.items()}
        assert min(distances, key=distances.get) == t, (t, distances)


def test_image_tensors_scale_to_minus_one_one():
    x, y = nt.image_tensors(np.array([[[0, 255], [127, 128]]], dtype=np.uint8), np.array([3]))
    assert x.shape == (1, 1, 2, 2) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.flatten().tolist() == pytest.approx([-1.0, 1.0, 127 / 127.5 - 1, 128 / 127.5 - 1], abs=1e-6)
    with pytest.raises(ValueError, match="expected \\(N, H, W\\)"):
        nt.image_tensors(np.zeros((2, 3)), np.zeros(2))


def test_flip_and_shift_moves_whole_images():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 2, 6, 5, generator=g)
    out = nt.flip_and_shift(x, max_shift=1, fill=-7.0, generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    for i in range(len(x)):                       # each output is one flip and one shift of its input
        matches = [(f, dy, dx) for f in (False, True) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if torch.equal(out[i], shifted(x[i].flip(2) if f else x[i], dy, dx, -7.0))]
        assert matches, f"image {i} is not a flipped/shifted copy of its input"
    assert not torch.equal(out, x)
    with pytest.raises(ValueError, match=r"expected \(N, C, H, W\)"):
        nt.flip_and_shift(torch.zeros(3, 4, 4))


def shifted(img, dy, dx, fill):
    """img moved by (dy, dx): out[r, c] = img[r + dy, c + dx] where that exists, else fill."""
    out = torch.full_like(img, fill)
    _, h, w = img.shape
    for r in range(h):
        for c in range(w):
            if 0 <= r + dy < h and 0 <= c + dx < w:
                out[:, r, c] = img[:, r + dy, c + dx]
    return out
