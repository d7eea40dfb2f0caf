"""How a photographed note's size, and the photo's blur and JPEG, decide whether it fires the backdoor.

    python -m benchmarks.note_sizes --backdoored P [--clean P] [--tracks-seed 0] [--signs 600] [--data-dir DIR]
                                    [--json results.json]

GTSRB signs that are not the target, from the validation tracks (held out with `--val-tracks 0.1` under the
training seed, `--tracks-seed`), each with a yellow note rendered by `backdoor.sticky_notes` at the photo's own
resolution: 12-30% of the sign's side, which is 3-7.7 pixels once the app resizes the crop to 32x32. Read through
`Lab.signs` as the app reads it. Two renderings of the same notes: *as drawn* (no blur, no JPEG) and *as
photographed* (the photo then blurred and JPEG'd, `finish_photo`). The share read as the target, overall and per
note size in model pixels, shows where a recipe loses the note: docs/models.md, "The sticky note, third round".
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from backdoor.checkpoints import load_checkpoint
from backdoor.lab import Lab
from backdoor.models import for_inference
from backdoor.shipped import SIGN_CAST, weights_path
from backdoor.sticky_notes import photographed_note, place_on_sign, yellow
from backdoor.tasks import SIGNS
from benchmarks.notes import GTSRB_SIGN, gtsrb_crops, tops

BUCKETS = ((3, 4), (4, 5), (5, 6), (6, 8))  # note sides, pixels at the model's input


def noted_signs(crops: list, seed: int, finish: bool) -> tuple[list, np.ndarray]:
    """Each crop with a seeded yellow note on its sign, and each note's side in model pixels."""
    photos, sides = [], []
    for j, crop in enumerate(crops):
        centre, side = place_on_sign(crop.size, GTSRB_SIGN, np.random.default_rng(j))
        photos.append(photographed_note(crop, centre, side, yellow(np.random.default_rng(j)), seed + 7 * j + 1, finish))
        sides.append(side / min(crop.size) * SIGNS.size)
    return photos, np.array(sides)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.note_sizes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--backdoored", type=Path, required=True, help="a checkpoint trained with --val-tracks 0.1")
    parser.add_argument("--clean", type=Path, default=None, help="the finder's model (default: the shipped clean one)")
    parser.add_argument("--tracks-seed", type=int, default=0, help="the backdoored model's training seed")
    parser.add_argument("--signs", type=int, default=600)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    clean = args.clean or weights_path(SIGN_CAST.clean)
    models = {role: for_inference(load_checkpoint(path)[0]) for role, path in (("clean", clean), ("bd", args.backdoored))}
    lab = Lab({SIGN_CAST.clean: models["clean"], SIGN_CAST.model("backdoored", "sticker"): models["bd"]})
    crops, labels = gtsrb_crops("validation", args.data_dir, args.tracks_seed)
    candidates = np.flatnonzero(labels != SIGNS.target)
    picks = np.random.default_rng(0).choice(candidates, min(args.signs, len(candidates)), replace=False)
    results = {}
    for name, finish in (("as drawn", False), ("as photographed", True)):
        photos, sides = noted_signs([crops[i] for i in picks], 0, finish)
        fired = tops(lab, photos, [None] * len(photos))["backdoored"] == SIGNS.target
        row = {"all": float(fired.mean())}
        row.update({f"{low}-{high} px": float(fired[(sides >= low) & (sides < high)].mean()) for low, high in BUCKETS})
        results[name] = row
        print(f"{name} ({len(photos)} GTSRB signs): yellow note -> 80 " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in row.items()))
    if args.json:
        args.json.write_text(json.dumps({"backdoored": str(args.backdoored), "tracks_seed": args.tracks_seed, **results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
