"""Training throughput: our in-memory loop against pytorch/examples' mnist loop, same network.

    python -m benchmarks.train_throughput [--data-dir DIR] [--batches 150]

Reference: torchvision.datasets.MNIST with per-sample ToTensor + Normalize through a
DataLoader (batch 128, shuffle, 1 worker as in pytorch/examples). Ours: the split decoded
once into a tensor (backdoor.data), a seeded randperm per epoch, slices, channels-last.
Both run the same optimiser step on mnist_badnet; the first 10 batches are warm-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision import datasets, transforms

from backdoor.data import load_split, resolve_data_dir
from backdoor.models import create_model
from backdoor.preprocess import to_float
from backdoor.tasks import MNIST

BATCH = 128
WARMUP = 10


def _step(model, optimizer, x, y) -> None:
    loss = F.cross_entropy(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _time(batches, model, n: int) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for i, (x, y) in enumerate(batches):
        if i == WARMUP:
            started = time.perf_counter()
        _step(model, optimizer, x, y)
        if i == WARMUP + n - 1:
            return n * BATCH / (time.perf_counter() - started)
    raise RuntimeError("not enough batches")


def reference_batches(root: Path, download: bool):
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MNIST.mean, MNIST.std)])
    ds = datasets.MNIST(root, train=True, download=download, transform=tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, shuffle=True, num_workers=1)
    while True:
        yield from loader


def our_batches(data_dir: str | None):
    images, labels = load_split(MNIST, train=True, data_dir=data_dir)
    images = to_float(images).contiguous(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(0)
    while True:
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(order) - BATCH + 1, BATCH):
            idx = order[start : start + BATCH]
            yield images[idx], labels[idx]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--batches", type=int, default=150, help="timed batches per loop (default 150)")
    args = parser.parse_args()
    root, download = resolve_data_dir(args.data_dir)
    torch.manual_seed(0)
    reference_model = create_model(MNIST.arch, MNIST)  # its Normalize layer is redundant here; cost is negligible
    ours_model = create_model(MNIST.arch, MNIST).to(memory_format=torch.channels_last)
    reference = _time(reference_batches(root, download), reference_model, args.batches)
    ours = _time(our_batches(args.data_dir), ours_model, args.batches)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    print(f"reference loop (DataLoader + ToTensor): {reference:8.0f} img/s")
    print(f"our loop (in-memory tensors):           {ours:8.0f} img/s")
    print(f"speed-up: {ours / reference:.2f}x")


if __name__ == "__main__":
    main()
