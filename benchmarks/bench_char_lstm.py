"""The char model's recurrence two ways: one fused nn.LSTM call against a per-step nn.LSTMCell loop.

Both models hold the same weights (``LSTMCellLoop.from_char_lstm``) and train
on the same batches of the standard-library corpus on the same device with
the same settings (bf16 autocast on CUDA); only the schedule of the
recurrence differs. nn.LSTM runs the whole sequence in one call (cuDNN on
CUDA), the loop launches T x num_layers small cell kernels. Reported:
training tokens/s (forward, backward and AdamW step) after warm-up steps.

    python benchmarks/bench_char_lstm.py            # full size: meant for a GPU
    python benchmarks/bench_char_lstm.py --quick    # a few seconds on a CPU (CI)

Goal on an H100: nn.LSTM/loop tokens/s >= 10.
"""
from __future__ import annotations

import argparse

import torch

from nnlib import pytorch as nt


def tokens_per_s(model, data, *, batch_size, steps, warmup, device, amp):
    """Training throughput: ``warmup`` untimed steps, then ``steps`` timed ones."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    settings = dict(batch_size=batch_size, optimizer=opt, device=device, amp=amp, progress=False)
    nt.fit(model, data, max_steps=warmup, **settings)
    history = nt.fit(model, data, max_steps=steps, seed=1, **settings)
    return history["images_or_tokens_per_s"][-1], history["loss"][-1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny model and few steps: checks the script runs")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--steps", type=int, default=None, help="timed training steps per model")
    p.add_argument("--no-amp", action="store_true", help="fp32 on CUDA too")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (pinned, as every benchmark)")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = nt.pick_device(args.device)
    if args.quick:
        embed, hidden, layers, seq_len, batch, steps, warmup, chars = 16, 64, 1, 32, 16, 5, 1, 100_000
    else:
        embed, hidden, layers, seq_len, batch, steps, warmup, chars = 64, 512, 2, 128, 128, 50, 5, 2_000_000
    steps = args.steps or steps
    amp = device.type == "cuda" and not args.no_amp
    corpus = nt.python_corpus(chars)
    x, y = nt.next_char_pairs(corpus.encode(corpus.text), seq_len)
    data = (x.to(device), y.to(device))
    print(f"corpus: {len(corpus.text):,} characters of the standard library, vocabulary {len(corpus.vocab)}; "
          f"CharLSTM(embed {embed}, hidden {hidden}, layers {layers}), batch {batch} x {seq_len} "
          f"characters, bf16 autocast {amp}, on {device}")

    nt.seed_everything(0)
    fused = nt.CharLSTM(len(corpus.vocab), embed, hidden, layers).to(device)
    loop = nt.LSTMCellLoop.from_char_lstm(fused)
    results = {}
    for label, model in (("nn.LSTM", fused), ("LSTMCell loop", loop)):
        rate, loss = tokens_per_s(model, data, batch_size=batch, steps=steps, warmup=warmup, device=device, amp=amp)
        results[label] = rate
        print(f"{label:>14}: {rate:>12,.0f} tokens/s (training loss {loss:.3f} after {warmup + steps} steps)")
    print(f"nn.LSTM/loop tokens/s: {results['nn.LSTM'] / results['LSTMCell loop']:.2f}x")
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}, "
              f"cuDNN {torch.backends.cudnn.version()}")
    return results


if __name__ == "__main__":
    main()
