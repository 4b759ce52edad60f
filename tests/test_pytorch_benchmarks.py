"""The GPU benchmarks run on a CPU at small size (--quick) and print their ratios; no timing asserts."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_char_lstm  # noqa: E402
import bench_cnn_gpu  # noqa: E402


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.mark.unit03
def test_bench_cnn_gpu_quick_runs_and_prints_ratios(capsys):
    plain, tuned = bench_cnn_gpu.main(["--quick", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "tuned/plain images/s:" in out and "time to 93%" in out
    assert plain["images_per_s"] > 0 and tuned["images_per_s"] > 0 and plain["epochs"] == 2


@pytest.mark.unit04
def test_bench_char_lstm_quick_runs_and_prints_the_ratio(capsys):
    results = bench_char_lstm.main(["--quick", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "nn.LSTM/loop tokens/s:" in out
    assert results["nn.LSTM"] > 0 and results["LSTMCell loop"] > 0
