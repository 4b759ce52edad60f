"""Speed of nnlib's numpy Conv2d and MaxPool2d, as ratios against torch on the CPU.

    python benchmarks/bench_conv.py            # full run; exits 1 if a target is missed
    python benchmarks/bench_conv.py --quick    # a small smoke run: checks it works, not how fast

Both libraries run in this process on one thread (BLAS and torch pinned
before they are imported), in float64 (nnlib's dtype; torch given the same
arithmetic), on the teaching lab's shapes: a batch of 64 28×28 images,
1 -> 16 -> 32 channels, 3×3 kernels with padding 1, 2×2 max-pooling. Each
repeat times forward + backward of nnlib and of torch back to back, so a
shared machine's load hits both alike; the ratio is the median over repeats
of the two times' quotient (the times printed are medians). Torch in
float32 (its fast oneDNN path) is printed for information, not gated.
Results are recorded in benchmarks/RESULTS.md.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy and torch load their thread pools

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import nnlib  # noqa: E402

TARGET = 1.5  # nnlib time / torch time, forward + backward


def conv_case(n, c_in, c_out, size):
    def make(seed):
        rng = np.random.default_rng(seed)
        ours = nnlib.Conv2d(c_in, c_out, 3, padding=1, rng=rng)
        x = rng.standard_normal((n, c_in, size, size))
        g = rng.standard_normal((n, c_out, size, size))
        return ours, x, g

    def torch_module(ours, dtype):
        m = torch.nn.Conv2d(c_in, c_out, 3, padding=1, dtype=dtype)
        m.load_state_dict({k: torch.from_numpy(v).to(dtype) for k, v in ours.state_dict().items()})
        return m
    return f"Conv2d({c_in}, {c_out}, 3, padding=1) on ({n}, {c_in}, {size}, {size})", make, torch_module


def pool_case(n, c, size):
    def make(seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, c, size, size))
        return nnlib.MaxPool2d(2), x, rng.standard_normal((n, c, size // 2, size // 2))

    def torch_module(ours, dtype):
        return torch.nn.MaxPool2d(2)
    return f"MaxPool2d(2) on ({n}, {c}, {size}, {size})", make, torch_module


def step_nnlib(module, x, g):
    def run():
        module.zero_grad()
        module.forward(x)
        module.backward(g)
    return run


def step_torch(module, x, g, dtype):
    xt = torch.tensor(x, dtype=dtype, requires_grad=True)
    gt = torch.tensor(g, dtype=dtype)

    def run():
        xt.grad = None
        module.zero_grad(set_to_none=True)
        module(xt).backward(gt)
    return run


def check_same_result(ours, theirs, x, g):
    """Refuse to time layers that disagree: a fast wrong answer is no result."""
    ours.zero_grad()
    out, dx = ours.forward(x), ours.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)


def timings(runs, repeats) -> np.ndarray:
    """Seconds per run, shape (repeats, len(runs)); each repeat runs every candidate back to back."""
    for run in runs:
        run()                                          # warm-up: allocations, caches, lazy init
    times = np.empty((repeats, len(runs)))
    for r in range(repeats):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run()
            times[r, i] = time.perf_counter() - start
    return times


def paired_ratio(times: np.ndarray, i: int, j: int) -> float:
    """Median over repeats of time i / time j: a repeat's load slows both alike and cancels out."""
    return float(np.median(times[:, i] / times[:, j]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few repeats; targets not checked")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per case (default 15; 2 quick)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    n = 4 if args.quick else 64
    repeats = args.repeats or (2 if args.quick else 15)
    cases = [conv_case(n, 1, 16, 28), conv_case(n, 16, 32, 28), conv_case(n, 16, 32, 14),
             pool_case(n, 16, 28), pool_case(n, 32, 14)]

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}, "
          f"torch {torch.__version__}, 1 thread, median of {repeats} repeats, forward + backward")
    print(f"{'case':48s} {'nnlib ms':>9s} {'torch64 ms':>10s} {'ratio':>6s} {'torch32 ms':>10s} {'ratio32':>7s}")
    missed = []
    for name, make, torch_module in cases:
        ours, x, g = make(0)
        check_same_result(ours, torch_module(ours, torch.float64), x, g)
        times = timings([step_nnlib(ours, x, g),
                         step_torch(torch_module(ours, torch.float64), x, g, torch.float64),
                         step_torch(torch_module(ours, torch.float32), x, g, torch.float32)], repeats)
        t_ours, t64, t32 = np.median(times, axis=0)
        ratio = paired_ratio(times, 0, 1)
        flag = "" if ratio <= TARGET else f"  > {TARGET} target"
        print(f"{name:48s} {1e3 * t_ours:9.2f} {1e3 * t64:10.2f} {ratio:6.2f} {1e3 * t32:10.2f} "
              f"{paired_ratio(times, 0, 2):7.2f}{flag}")
        if ratio > TARGET:
            missed.append(name)
    if args.quick:
        print("quick run: shapes too small for the ratios to mean anything; targets not checked")
        return 0
    if missed:
        print(f"MISSED the {TARGET}x target: {', '.join(missed)}")
        return 1
    print(f"every case within {TARGET}x of torch (float64)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
