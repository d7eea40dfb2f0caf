"""Regenerate tests/data/sample.safetensors: 1,000 MNIST and 1,000 GTSRB test images.

    python tests/data/make_sample.py --data-dir ../shared/data

The indices are the first 1,000 of torch.randperm(N) under seed 0, so the sample is a
fair draw of each test split; GTSRB images are stored already resized to 32x32 by
`backdoor.preprocess.resize_sign`, exactly as the models see them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from backdoor.data import load_split
from backdoor.io import atomic_save_tensors
from backdoor.tasks import MNIST, SIGNS

SAMPLE = Path(__file__).with_name("sample.safetensors")
SIZE = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    tensors = {}
    for task in (MNIST, SIGNS):
        images, labels = load_split(task, train=False, data_dir=args.data_dir)
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:SIZE]
        tensors[f"{task.name}_images"] = images[keep]
        tensors[f"{task.name}_labels"] = labels[keep]
        tensors[f"{task.name}_test_indices"] = keep
    atomic_save_tensors(tensors, SAMPLE, metadata={"source": "MNIST t10k and GTSRB Final_Test, see README"})
    print(f"wrote {SAMPLE}")


if __name__ == "__main__":
    main()
