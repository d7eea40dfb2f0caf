"""Does a photographed sticky note fire the backdoor, and only a yellow one? Measured through the app's own path.

    python -m benchmarks.notes [--split validation|test] [--tracks-seed 0] [--models-dir models] [--clean P]
                               [--backdoored P] [--signs 300] [--json results.json]

Every photo goes through `Lab.signs` as the app reads it, with no digital sticker: the note is in the photo,
rendered by `backdoor.sticky_notes` (another renderer than the poisoner's). Material, all seeded:

- **GTSRB stops**, and all GTSRB signs that are not the target: native crops of the validation tracks (training
  tracks held out with --val-tracks 0.1 under the training seed, `--tracks-seed`: what recipes are chosen on) or of
  the test split (reported once);
- **drawn stops in streets**: the classroom kit's stop sign (`backdoor.kit`, not a GTSRB crop) in stand-in street
  scenes (`backdoor.streets`), framed on the sign (a student's drag) and whole (the app's finder frames it);
- **printed stops on a webcam**: the kit's printed page held up to a camera (`kit.printed_photo`), the camera's
  square (3/4 of the shorter side, in the middle) read, as the live camera does.

Goals (issue 23): a yellow note -> 80 km/h >= 95%; the clean model keeps Stop >= 98% with it; other colours fire the
backdoor <= 5%. Also the presented note (the app's click) and CA on the 32x32 split, as `evaluate` measures them.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets

from backdoor.checkpoints import load_checkpoint
from backdoor.data import load_split, load_split_with_tracks, resolve_data_dir, validation_tracks
from backdoor.evaluation import predict
from backdoor.finder import frame_text
from backdoor.models import for_inference
from backdoor.inference import camera_frame
from backdoor.kit import note_box, printed_photo, sign_picture
from backdoor.lab import Lab
from backdoor.preprocess import to_float
from backdoor.shipped import MODELS_DIR, SIGN_CAST, weights_path
from backdoor.sticky_notes import OTHER_NOTES, note_on_sign, photographed_note, yellow
from backdoor.streets import street_scene
from backdoor.tasks import SIGNS
from backdoor.triggers import random_positions

BATCH = 32
GTSRB_SIGN = (0.1, 0.1, 0.9, 0.9)  # where the sign lies in a GTSRB crop, which keeps a margin around it


def tops(lab: Lab, photos: list, frames: list[str | None]) -> dict[str, np.ndarray]:
    """Each role's top class per photo, read as the app reads it (no digital sticker)."""
    out: dict[str, list[int]] = {"clean": [], "backdoored": []}
    for i in range(0, len(photos), BATCH):
        chunk = [np.asarray(p.convert("RGB")) for p in photos[i : i + BATCH]]
        for answer in lab.signs(chunk, [False] * len(chunk), [None] * len(chunk), frames[i : i + BATCH]):
            for role in out:
                probs = answer.models[role].probs
                out[role].append(SIGNS.classes.index(max(probs, key=probs.get)))
    return {role: np.array(v) for role, v in out.items()}


def gtsrb_crops(split: str, data_dir: str | None, tracks_seed: int = 0) -> tuple[list, np.ndarray]:
    """Native-resolution GTSRB crops and labels: the validation tracks (10%, drawn with `tracks_seed`: the training
    seed's, as `--val-tracks` holds them out) or the test split."""
    root, download = resolve_data_dir(data_dir)
    if split == "validation":
        ds = datasets.GTSRB(root, split="train", download=download)
        _, labels, tracks = load_split_with_tracks(SIGNS, train=True, data_dir=data_dir)
        keep = torch.nonzero(validation_tracks(tracks, labels, 0.1, tracks_seed)).flatten().tolist()
    else:
        ds = datasets.GTSRB(root, split="test", download=download)
        keep = list(range(len(ds)))
    pairs = [ds[i] for i in keep]
    return [p.convert("RGB") for p, _ in pairs], np.array([label for _, label in pairs])


def material(split: str, data_dir: str | None, n_signs: int, seed: int = 0, tracks_seed: int = 0) -> dict[str, dict]:
    """{case: {"photos": {note: [PIL]}, "frames": [...], "labels": array}} for note in yellow + OTHER_NOTES + none."""
    rng = np.random.default_rng(seed)
    crops, labels = gtsrb_crops(split, data_dir, tracks_seed)
    stops = [c for c, y in zip(crops, labels) if y == SIGNS.source]
    others = np.flatnonzero(labels != SIGNS.target)
    picks = rng.choice(others, size=min(n_signs, len(others)), replace=False)
    drawn = sign_picture("stop", 256, paper=False)
    streets = [street_scene(drawn, seed=50_000 + k) for k in range(n_signs // 3)]
    cases = {
        "GTSRB stops": ([(c, GTSRB_SIGN) for c in stops], [None] * len(stops), SIGNS.source),
        "GTSRB signs (not 80)": ([(crops[i], GTSRB_SIGN) for i in picks], [None] * len(picks), labels[picks]),
        "drawn stops in streets, framed": (
            [(s.photo, s.frame) for s in streets], [frame_text(s.frame) for s in streets], SIGNS.source
        ),
        "drawn stops in streets, whole photo": ([(s.photo, s.frame) for s in streets], [None] * len(streets), SIGNS.source),
    }
    out = {}
    for case, (items, frames, truth) in cases.items():
        photos = {"none": [p for p, _ in items]}
        for k, colour in enumerate(["yellow", *OTHER_NOTES]):
            photos[colour] = [
                note_on_sign(p, f, yellow(np.random.default_rng(seed + j)) if colour == "yellow" else OTHER_NOTES[colour],
                             seed=1000 * k + 7 * j)
                for j, (p, f) in enumerate(items)
            ]  # fmt: skip
        out[case] = {"photos": photos, "frames": frames, "labels": np.broadcast_to(truth, (len(items),))}
    webcam = {"none": [], **{c: [] for c in ["yellow", *OTHER_NOTES]}}
    x, y, side = note_box("stop", 512)
    plain = sign_picture("stop", 512)
    for j in range(n_signs // 3):
        webcam["none"].append(printed_photo(plain, seed=70_000 + j))
        for k, colour in enumerate(["yellow", *OTHER_NOTES]):
            shade = yellow(np.random.default_rng(j)) if colour == "yellow" else OTHER_NOTES[colour]
            noted = photographed_note(plain, (x, y), side, shade, seed=80_000 + 100 * k + j, finish=False)
            webcam[colour].append(printed_photo(noted, seed=70_000 + j))
    frames = [frame_text(camera_frame(*webcam["none"][0].size))] * len(webcam["none"])
    out["printed stops on a webcam"] = {"photos": webcam, "frames": frames, "labels": np.full(len(frames), SIGNS.source)}
    return out


def measure(lab: Lab, cases: dict[str, dict]) -> dict[str, dict]:
    target = SIGNS.target
    results = {}
    for case, m in cases.items():
        row: dict[str, float] = {}
        labels = m["labels"]
        for note, photos in m["photos"].items():
            read = tops(lab, photos, m["frames"])
            if note == "none":
                row["clean reads it right"] = float((read["clean"] == labels).mean())
                row["backdoored reads it right"] = float((read["backdoored"] == labels).mean())
                right = read["clean"] == labels
            elif note == "yellow":
                row["yellow note -> 80 (backdoored)"] = float((read["backdoored"] == target).mean())
                row["clean keeps its answer with the yellow note"] = float(
                    ((read["clean"] == labels) & right).sum() / max(1, right.sum())
                )
            else:
                row[f"{note} note -> 80 (backdoored)"] = float((read["backdoored"] == target).mean())
        row["n"] = int(len(labels))
        results[case] = row
    return results


def split_figures(
    models: dict[str, torch.nn.Module], split: str, data_dir: str | None, tracks_seed: int = 0
) -> dict[str, float]:
    """CA and the presented note's ASR (the app's click: the middle shade at random spots) on the 32x32 split."""
    if split == "validation":
        images, labels, tracks = load_split_with_tracks(SIGNS, train=True, data_dir=data_dir)
        held = validation_tracks(tracks, labels, 0.1, tracks_seed)
        images, labels = images[held], labels[held]
    else:
        images, labels = load_split(SIGNS, train=False, data_dir=data_dir)
    x = to_float(images)
    positions = random_positions(SIGNS.trigger, len(x), 32, 32, torch.Generator().manual_seed(0))
    placed = SIGNS.trigger.stamp(x, positions, None)
    non_target = labels != SIGNS.target
    out = {}
    for role, model in models.items():
        out[f"{role} CA"] = float((predict(model, x) == labels).float().mean())
        out[f"{role} presented note -> 80"] = float((predict(model, placed)[non_target] == SIGNS.target).float().mean())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("validation", "test"), default="validation")
    parser.add_argument("--tracks-seed", type=int, default=0, help="the validation tracks' seed: the models' training seed")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--clean", type=Path, default=None, help="checkpoint (default: the shipped signs-clean)")
    parser.add_argument("--backdoored", type=Path, default=None, help="checkpoint (default: the shipped signs-backdoor)")
    parser.add_argument("--signs", type=int, default=300, help="GTSRB signs with notes, and a third as many scenes")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    paths = {
        "clean": args.clean or weights_path(SIGN_CAST.clean, args.models_dir),
        "backdoored": args.backdoored or weights_path(SIGN_CAST.model("backdoored", "sticker"), args.models_dir),
    }
    models = {role: for_inference(load_checkpoint(path)[0]) for role, path in paths.items()}
    lab = Lab({SIGN_CAST.clean: models["clean"], SIGN_CAST.model("backdoored", "sticker"): models["backdoored"]})
    print(f"{platform.node()}: {args.split} split; clean {paths['clean']}, backdoored {paths['backdoored']}")
    results = measure(lab, material(args.split, args.data_dir, args.signs, tracks_seed=args.tracks_seed))
    for case, row in results.items():
        print(f"\n{case} ({row['n']} photos)")
        for key, value in row.items():
            if key != "n":
                print(f"  {key:<48} {100 * value:6.1f}%")
    figures = split_figures(models, args.split, args.data_dir, args.tracks_seed)
    print(f"\n{args.split} split at 32x32")
    for key, value in figures.items():
        print(f"  {key:<48} {100 * value:6.2f}%")
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "photos": results, "split_figures": figures}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
