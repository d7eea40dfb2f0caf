"""Compute of one app interaction, in-process and with the app's torch threads: preprocess, the
models, their saliency maps, STRIP.

    python -m benchmarks.interaction [--repeats 200]

Digits: a 280x280 RGBA drawing -> 28x28 input (+ trigger) -> three models' probabilities,
saliency overlays and STRIP's verdict. Signs: a real GTSRB photo -> 32x32 input (+ sticker)
-> the same with two models.
Prints median and p95 in milliseconds; the goal is p95 <= 15 ms on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import numpy as np
import torch
from PIL import Image, ImageDraw

from backdoor.lab import Lab
from backdoor.serving.handlers import read_photo


def _drawing() -> np.ndarray:
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(100, 80), (190, 80), (130, 220)], fill=(0, 0, 0, 255), width=18)
    return np.asarray(image)


def _time(fn, repeats: int) -> list[float]:
    for _ in range(10):  # warm-up
        fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - started))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the app's worker serves
    lab = Lab.load()  # with the repaired model and STRIP, as served
    sketch = _drawing()
    sign = read_photo(str(ROOT / "examples" / "signs" / "14-stop-02992.png"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    for label, fn in [
        ("digit, trigger on", lambda: lab.digits([sketch], [True])),
        ("sign, sticker on", lambda: lab.signs([sign], [True], [None])),
    ]:
        times = sorted(_time(fn, args.repeats))
        p95 = times[int(0.95 * len(times)) - 1]
        print(f"{label:<20} median {statistics.median(times):6.2f} ms   p95 {p95:6.2f} ms   ({args.repeats} runs)")


if __name__ == "__main__":
    main()
