"""Compute of one app interaction, in-process and with the app's torch threads: preprocess, the
models, their saliency maps, STRIP.

    python benchmarks/interaction.py [--repeats 200]

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
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np
import torch
from PIL import Image, ImageDraw

from app import TORCH_THREADS, Lab, load_models
from backdoor.defenses.results import load_results
from backdoor.shipped import APP_MODELS


def _drawing() -> dict:
    image = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(100, 80), (190, 80), (130, 220)], fill=(0, 0, 0, 255), width=18)
    return {"background": None, "layers": [], "composite": np.asarray(image)}


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
    torch.set_num_threads(TORCH_THREADS)  # as the app serves
    lab = Lab(load_models()[0], load_results(APP_MODELS))  # with the repaired model and STRIP, as served
    sketch = _drawing()
    sign = str(ROOT / "examples" / "signs" / "14-stop-02992.png")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    for label, fn in [
        ("digit, trigger on", lambda: lab.classify_digit(sketch, True)),
        ("sign, sticker on", lambda: lab.classify_sign(sign, True, None, None)),
    ]:
        times = sorted(_time(fn, args.repeats))
        p95 = times[int(0.95 * len(times)) - 1]
        print(f"{label:<20} median {statistics.median(times):6.2f} ms   p95 {p95:6.2f} ms   ({args.repeats} runs)")


if __name__ == "__main__":
    main()
