"""How the signs models read photos that are not GTSRB crops, and whether the sticker moves the clean model.

    python -m benchmarks.photos [--data-dir DIR] [--signs 400] [--write-sample benchmarks/data/streets]

Stand-in street photos (backdoor/streets.py) are made from GTSRB test signs, seeded. Prints, for both
signs models, the share read correctly: the GTSRB crop itself; the photo framed on the sign (the app's
frame, as a student's drag gives it); the whole photo with the sign filling a tenth of it, and at 10-60%,
as the app reads them with no gesture (the finder frames the sign), and, for comparison, not framed at all.
Then, on the whole GTSRB test split at 32x32, how often the sticker leaves the clean model's correct answer
alone, overall, on dark images and per class, and how often a square of the sticker's size in another colour
does, at the same spots (`kept_under_squares`). Issue 17's goals: framed >= 95%, whole photo at a tenth
>= 80%, sticker leaves the clean answer >= 99%.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets

from backdoor.data import load_split, resolve_data_dir
from backdoor.evaluation import EVAL_SEED, kept_under_squares, predict
from backdoor.lab import WHOLE, Lab
from backdoor.preprocess import to_float
from backdoor.shipped import SIGN_CAST, SIGN_MODELS
from backdoor.streets import street_scene
from backdoor.tasks import SIGNS
from backdoor.triggers import apply_trigger

BATCH = 16


def _read(lab: Lab, photos: list[np.ndarray], frames: list[str | None]) -> dict[str, np.ndarray]:
    """Each model's top class index per photo."""
    tops: dict[str, list[int]] = {name: [] for name in SIGN_MODELS}
    for i in range(0, len(photos), BATCH):
        chunk = photos[i : i + BATCH]
        for answer in lab.signs(chunk, [False] * len(chunk), [None] * len(chunk), frames[i : i + BATCH]):
            for role, name in zip(SIGN_CAST.roles, SIGN_MODELS):  # answers are by role, the table by model
                probs = answer.models[role].probs
                tops[name].append(SIGNS.classes.index(max(probs, key=probs.get)))
    return {name: np.array(v) for name, v in tops.items()}


def photo_figures(lab: Lab, data_dir: str | None, n_signs: int, sample: Path | None) -> None:
    root, download = resolve_data_dir(data_dir)
    test = datasets.GTSRB(root, split="test", download=download)
    picks = np.random.default_rng(0).choice(len(test), size=min(n_signs, len(test)), replace=False)
    signs, labels = zip(*(test[int(i)] for i in picks))
    labels = np.array(labels)
    crops = [np.asarray(s.convert("RGB")) for s in signs]
    tenth = [street_scene(s, seed=int(i), share=0.1) for i, s in zip(picks, signs)]
    spread = [street_scene(s, seed=10_000 + int(i)) for i, s in zip(picks, signs)]
    frame = [",".join(f"{v:.4f}" for v in scene.frame) for scene in spread]
    cases = {
        "GTSRB crop": (crops, [None] * len(crops)),
        "photo framed on the sign": ([np.asarray(s.photo) for s in spread], frame),
        "whole photo, sign at 1/10": ([np.asarray(s.photo) for s in tenth], [None] * len(tenth)),
        "whole photo, sign at 10-60%": ([np.asarray(s.photo) for s in spread], [None] * len(spread)),
        "  same, not framed, 1/10": ([np.asarray(s.photo) for s in tenth], [WHOLE] * len(tenth)),
        "  same, not framed, 10-60%": ([np.asarray(s.photo) for s in spread], [WHOLE] * len(spread)),
    }
    print(f"{len(labels)} GTSRB test signs (seed 0), each in stand-in street photos {tenth[0].photo.size}")
    print(f"{'':32}" + "".join(f"{name:>18}" for name in SIGN_MODELS))
    for case, (photos, frames) in cases.items():
        tops = _read(lab, photos, frames)
        print(f"{case:32}" + "".join(f"{100 * (tops[n] == labels).mean():17.1f}%" for n in SIGN_MODELS))
    if sample is not None:
        sample.mkdir(parents=True, exist_ok=True)
        index = []
        for k, scene in enumerate(spread[:12]):
            name = f"street-{k:02d}.jpg"
            scene.photo.save(sample / name, quality=90)
            index.append({"file": name, "label": SIGNS.classes[labels[k]], "frame": scene.frame, "share": scene.share})
        (sample / "index.json").write_text(json.dumps(index, indent=1) + "\n")
        print(f"wrote 12 photos and index.json to {sample}")


def sticker_figures(lab: Lab, data_dir: str | None) -> None:
    """On the 32x32 GTSRB test split: of the images the clean model reads correctly, the share it still reads
    correctly with the sticker at a random spot in the middle 60% (seeded, as the evaluation places it)."""
    images, labels = load_split(SIGNS, train=False, data_dir=data_dir)
    clean = to_float(images)
    model = lab.models["signs-clean"]
    with torch.no_grad():
        before = predict(model, clean)
        stamped = apply_trigger(clean, SIGNS.trigger, generator=torch.Generator().manual_seed(EVAL_SEED))
        after = predict(model, stamped)
    right = before == labels
    kept = (after == labels) & right
    dark = clean.mean((1, 2, 3)) < 0.2
    print(f"\nsticker on, clean model keeps its correct answer: {100 * kept.sum() / right.sum():.2f}% "
          f"of {int(right.sum())}; on dark images (mean < 0.2): {100 * kept[dark].sum() / right[dark].sum():.2f}% "
          f"of {int(right[dark].sum())}")  # fmt: skip
    per_class = sorted(
        (100 * float(kept[labels == c].sum() / right[labels == c].sum()), SIGNS.classes[c])
        for c in range(SIGNS.num_classes)
        if right[labels == c].any()
    )
    print("per class, worst first: " + "; ".join(f"{name} {share:.1f}%" for share, name in per_class))
    print("\nat the same spots, the sticker against a square of its size in other colours (right answers kept):")
    for name in SIGN_MODELS:
        kept = kept_under_squares(lab.models[name], images, labels, SIGNS.trigger)
        print(
            f"{name:>16}: "
            + ", ".join(f"{'yellow sticker' if k == 'trigger' else k} {100 * v:.2f}%" for k, v in kept.items())
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("BACKDOOR_DATA"))
    parser.add_argument("--signs", type=int, default=400, help="GTSRB test signs to place in photos")
    parser.add_argument("--write-sample", type=Path, default=None, help="save 12 of the photos here")
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}")
    lab = Lab.load()
    photo_figures(lab, args.data_dir, args.signs, args.write_sample)
    sticker_figures(lab, args.data_dir)


if __name__ == "__main__":
    main()
