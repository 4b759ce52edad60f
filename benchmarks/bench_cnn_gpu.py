"""The CNN lab's model on Fashion-MNIST: the tuned PyTorch path against plain eager fp32.

Both runs train the same ResNet from the same initial weights on the same
device. The plain run is what a first PyTorch script does: fp32, eager,
batch 128. The tuned run switches on what nnlib.pytorch.fit offers on a GPU:
bf16 autocast, channels_last, torch.compile and a large batch with a
one-cycle schedule. Reported per run: training images/s (epochs after the
first, so compilation and cuDNN autotuning are left out) and the wall time
until the test accuracy first reaches the target (compilation included).

    python benchmarks/bench_cnn_gpu.py            # full size: meant for a GPU
    python benchmarks/bench_cnn_gpu.py --quick    # a few seconds on a CPU (CI)

Goal on an H100: tuned/plain images/s >= 3, and 93% test accuracy in < 10 s.
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from nnlib import pytorch as nt


def load_data(device, n_train=None, n_test=None):
    try:
        d, name = nt.fashion_mnist(), "Fashion-MNIST"
    except FileNotFoundError as err:
        print(f"{err}\nfalling back to the 8x8 digits blown up to 28x28")
        d, name = nt.digits_28x28(), "digits_28x28"
    train = nt.image_tensors(d.x_train[:n_train], d.y_train[:n_train], device)
    test = nt.image_tensors(d.x_test[:n_test], d.y_test[:n_test], device)
    return train, test, name


def run(label, model, train, test, target, *, epochs, batch_size, lr, amp, channels_last, compile, device):
    reached = {}
    start = time.perf_counter()

    def stop_at_target(epoch, history):
        if history["val_accuracy"][-1] >= target and not reached:
            reached.update(epoch=epoch, seconds=time.perf_counter() - start)
            return True
        return False

    history = nt.fit(model, train, test, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=5e-4,
                     schedule="onecycle", augment=nt.flip_and_shift, amp=amp, channels_last=channels_last,
                     compile=compile, device=device, progress=False, on_epoch_end=stop_at_target)
    rates = history["images_or_tokens_per_s"]
    steady = rates[1:] if len(rates) > 1 else rates
    result = {"label": label, "images_per_s": sum(steady) / len(steady),
              "best_test_accuracy": max(history["val_accuracy"]), "epochs": len(rates),
              "seconds_to_target": reached.get("seconds"), "epoch_of_target": reached.get("epoch")}
    when = (f"{result['seconds_to_target']:.1f} s (epoch {result['epoch_of_target']})"
            if reached else f"not reached in {len(rates)} epochs")
    print(f"{label:>6}: {result['images_per_s']:>10,.0f} images/s, best test accuracy "
          f"{result['best_test_accuracy']:.4f}, {target:.0%} after {when}")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny model and data subset: checks the script runs")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--target", type=float, default=0.93, help="test accuracy to reach")
    p.add_argument("--batch-size", type=int, default=None, help="tuned run's batch (plain run: 128)")
    p.add_argument("--no-compile", action="store_true", help="leave torch.compile out of the tuned run")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (pinned, as every benchmark)")
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    device = nt.pick_device(args.device)
    on_gpu = device.type == "cuda"
    if args.quick:
        widths, blocks, epochs, n_train, n_test, big = (8, 16), 1, 2, 1024, 512, 256
    else:
        widths, blocks, epochs, n_train, n_test, big = (64, 128, 256), 2, 12, None, None, 512
    epochs = args.epochs or epochs
    big = args.batch_size or big
    train, test, name = load_data(device, n_train, n_test)
    print(f"{name}: {len(train[0])} training and {len(test[0])} test images on {device}; "
          f"ResNet(widths={widths}, blocks_per_stage={blocks}), up to {epochs} epochs")

    nt.seed_everything(0)
    model = nt.ResNet(1, 10, widths, blocks).to(device)
    initial = copy.deepcopy(model.state_dict())
    plain = run("plain", model, train, test, args.target, epochs=epochs, batch_size=128, lr=2e-3,
                amp=False, channels_last=False, compile=False, device=device)
    model.load_state_dict(initial)
    compile = on_gpu and not args.no_compile       # on a CPU compilation costs more than it saves here
    tuned = run("tuned", model, train, test, args.target, epochs=epochs, batch_size=big, lr=4e-3,
                amp=on_gpu, channels_last=on_gpu, compile=compile, device=device)

    print(f"tuned/plain images/s: {tuned['images_per_s'] / plain['images_per_s']:.2f}x "
          f"(bf16 autocast {on_gpu}, channels_last {on_gpu}, compile {compile}, batch {big} vs 128)")
    if plain["seconds_to_target"] and tuned["seconds_to_target"]:
        print(f"time to {args.target:.0%}: plain {plain['seconds_to_target']:.1f} s, tuned "
              f"{tuned['seconds_to_target']:.1f} s, ratio {plain['seconds_to_target'] / tuned['seconds_to_target']:.2f}x")
    else:
        print(f"time to {args.target:.0%}: not reached by both runs (expected with --quick)")
    if device.type == "cuda":
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    return plain, tuned


if __name__ == "__main__":
    main()
