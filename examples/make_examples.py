"""Regenerate the app's example galleries from the real test sets.

    python examples/make_examples.py --data-dir ../shared/data

Digits: the first test digit of each class, inverted to black-on-white and enlarged to
the canvas (280x280), as if drawn there. Signs: original-size GTSRB test photos of
chosen classes, stop signs first (the demo's attack), as PNG.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from torchvision import datasets

from backdoor.data import resolve_data_dir
from backdoor.tasks import SIGNS

HERE = Path(__file__).resolve().parent
CANVAS = 280
SIGN_PICKS = {14: 4, 5: 1, 1: 1, 13: 1, 12: 1, 17: 1, 25: 1, 38: 1, 33: 1}  # class -> how many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    root, download = resolve_data_dir(parser.parse_args().data_dir)

    digits = datasets.MNIST(root, train=False, download=download)
    (HERE / "digits").mkdir(exist_ok=True)
    for digit in range(10):
        index = int((digits.targets == digit).nonzero()[0])
        ink = digits.data[index].numpy()
        image = Image.fromarray(255 - ink).resize((CANVAS, CANVAS), Image.BICUBIC)
        image.save(HERE / "digits" / f"digit-{digit}-test{index:05d}.png", optimize=True)

    signs = datasets.GTSRB(root, split="test", download=download)
    (HERE / "signs").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for label, count in SIGN_PICKS.items():
        candidates = [i for i, (path, y) in enumerate(signs._samples) if y == label]
        candidates = [
            i for i in candidates if min(Image.open(signs._samples[i][0]).size) >= 48
        ]  # visible on a projector
        for i in sorted(rng.choice(candidates, size=count, replace=False)):
            path = Path(signs._samples[i][0])
            name = SIGNS.classes[label].lower().replace(" ", "-").replace("(", "").replace(")", "").replace("/", "")
            Image.open(path).convert("RGB").save(HERE / "signs" / f"{label:02d}-{name}-{path.stem}.png", optimize=True)


if __name__ == "__main__":
    main()
