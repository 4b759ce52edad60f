"""nnlib.LSTM forward + backward through time against torch.nn.LSTM on the CPU, one thread each.

Both run in this process on the same float64 data and weights (nnlib is
float64 throughout, so torch is asked for float64 too): x (T=50, N=32, D=64),
hidden size 128, loss gradient drawn once. Each round times one
forward + backward of each library, alternating, and the ratio of the two
times is taken per round; the median over rounds is reported.

    python benchmarks/bench_lstm.py          # full run: exits 1 if the median ratio exceeds 1.2
    python benchmarks/bench_lstm.py --quick  # a few rounds, a smoke test for CI; never fails on speed

Run it with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 (set
below as well, before numpy is imported, for a direct `python` call).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import nnlib  # noqa: E402

TARGET = 1.2
T, N, D, H = 50, 32, 64, 128


def setup(seed: int = 0):
    rng = np.random.default_rng(seed)
    ours = nnlib.LSTM(D, H, rng=rng)
    theirs = torch.nn.LSTM(D, H, dtype=torch.float64)
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((T, N, D))
    dy = rng.standard_normal((T, N, H))
    return ours, theirs, x, dy


def step_nnlib(model, x, dy) -> float:
    start = time.perf_counter()
    model.forward(x)
    model.backward(dy)
    return time.perf_counter() - start


def step_torch(model, x, dy) -> float:
    start = time.perf_counter()
    xt = x.requires_grad_()
    out, _ = model(xt)
    out.backward(dy)
    elapsed = time.perf_counter() - start
    xt.grad = None
    return elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds, no pass/fail on speed (CI smoke run)")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rounds = args.rounds or (3 if args.quick else 40)

    ours, theirs, x, dy = setup()
    xt, dyt = torch.from_numpy(x.copy()), torch.from_numpy(dy)
    # the two must compute the same thing before their times mean anything
    out = ours.forward(x)
    dx = ours.backward(dy)
    xt.requires_grad_()
    t_out, _ = theirs(xt)
    t_out.backward(dyt)
    assert np.allclose(out, t_out.detach().numpy(), atol=1e-10)
    assert np.allclose(dx, xt.grad.numpy(), atol=1e-10)
    xt = xt.detach()

    for _ in range(2):                                   # warm-up: allocator, BLAS buffers
        step_nnlib(ours, x, dy)
        step_torch(theirs, xt, dyt)
    ratios, t_ours, t_theirs = [], [], []
    for _ in range(rounds):
        ours.zero_grad()
        theirs.zero_grad()
        a = step_nnlib(ours, x, dy)
        b = step_torch(theirs, xt, dyt)
        t_ours.append(a)
        t_theirs.append(b)
        ratios.append(a / b)
    ratio = float(np.median(ratios))
    print(f"LSTM T={T} N={N} D={D} H={H}, float64, 1 thread, {rounds} rounds: "
          f"nnlib {1e3 * np.median(t_ours):.1f} ms, torch {1e3 * np.median(t_theirs):.1f} ms, "
          f"median ratio {ratio:.2f} (target <= {TARGET})")
    # for scale only: torch in float32, a precision nnlib does not offer
    theirs32 = theirs.float()
    x32, dy32 = xt.float(), dyt.float()
    t32 = float(np.median([step_torch(theirs32, x32, dy32) for _ in range(max(3, rounds // 4))]))
    print(f"for scale: torch float32 {1e3 * t32:.1f} ms")
    if args.quick:
        return 0
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
