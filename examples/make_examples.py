"""Regenerate the app's example galleries from the real test sets.

    python -m examples.make_examples --data-dir ../shared/data

Digits: the first test digit of each class, inverted to black-on-white and enlarged to
the canvas (280x280), as if drawn there. Signs: original-size GTSRB test photos of
chosen classes, stop signs first (the demo's attack), as PNG. Poisoned: the first
training images that the shipped backdoored models' poisoning (`add_trigger`, same
rate, seed and target) stamped and relabelled, enlarged with the trigger boxed. Invisible: for each
invisible attack (blend, warp), poisoned training images beside their clean originals; and a "which of
these were poisoned?" quiz of eight training images, half of them poisoned, its answers in answers.json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import datasets

from backdoor.data import load_split, resolve_data_dir
from backdoor.inference import enlarge
from backdoor.poisoning import add_trigger
from backdoor.preprocess import to_float
from backdoor.shipped import SHIPPED
from backdoor.tasks import SIGNS, TASKS
from backdoor.triggers import ATTACKS, PIXEL

HERE = Path(__file__).resolve().parent
CANVAS = 280
DARKEST = 40  # mean grey level (0-255) below which a photo is a dark blur on a projector (the 80 km/h one was 20)
SIGN_PICKS = {14: 4, 5: 1, 1: 1, 13: 1, 12: 1, 17: 1, 25: 1, 38: 1, 33: 1}  # class -> how many
POISONED_SHOWN = 6  # per backdoored model


def save_poisoned(data_dir: str | None) -> None:
    """The first poisoned training images of each shipped backdoored model, as the poisoner left them."""
    (HERE / "poisoned").mkdir(exist_ok=True)
    for old in (HERE / "poisoned").glob("*.png"):
        old.unlink()
    for shipped in (s for s in SHIPPED if s.poison_rate > 0 and ATTACKS.get(s.attack or "", PIXEL).visible):
        task = TASKS[shipped.task]
        images, labels = load_split(task, train=True, data_dir=data_dir)
        poisoned_images, _, indices = add_trigger(
            to_float(images), labels, shipped.poison_rate, task.target, shipped.seed, task.trigger
        )
        # Images that were already of the target class teach nothing ("was 80 km/h, now 80 km/h"); the
        # source class the demo attacks (stop signs) comes first where the task has one.
        relabelled = [i for i in indices.tolist() if int(labels[i]) != task.target]
        source = [i for i in relabelled if task.source is not None and int(labels[i]) == task.source][:1]
        shown = source + [i for i in relabelled if i not in source][: POISONED_SHOWN - len(source)]
        for index in shown:
            x = poisoned_images[index : index + 1]
            changed = ((x - to_float(images[index : index + 1])).abs() > 0.02).any(1)[0].nonzero()
            (row, col), (last_row, last_col) = changed.min(0).values.tolist(), changed.max(0).values.tolist()
            side = max(last_row - row, last_col - col) + 1  # the box around the stamp (a note's size varies)
            picture = enlarge(x, 140 // task.size, (row, col, side))
            name = f"{task.name}-train{index:05d}-was{int(labels[index]):02d}-now{task.target:02d}.png"
            Image.fromarray(picture).save(HERE / "poisoned" / name, optimize=True)


INVISIBLE_SHOWN = 4  # per invisible attack, each beside its clean original
QUIZ = 8  # training images in the quiz, half of them poisoned


def save_invisible(data_dir: str | None) -> None:
    """Poisoned training images of each invisible attack beside their clean originals, and the quiz."""
    for folder in ("invisible", "quiz"):
        (HERE / folder).mkdir(exist_ok=True)
        for old in (HERE / folder).glob("*"):
            old.unlink()
    quiz = []
    for shipped in (s for s in SHIPPED if s.attack and not ATTACKS[s.attack].visible):
        task = replace(TASKS[shipped.task], trigger=ATTACKS[shipped.attack])
        images, labels = load_split(task, train=True, data_dir=data_dir)
        clean = to_float(images)
        poisoned_images, _, indices = add_trigger(clean, labels, shipped.poison_rate, task.target, shipped.seed, task.trigger)
        relabelled = [i for i in indices.tolist() if int(labels[i]) != task.target]
        for index in relabelled[:INVISIBLE_SHOWN]:
            stem = f"{shipped.attack}-train{index:05d}-was{int(labels[index]):02d}-now{task.target:02d}"
            for kind, x in (("clean", clean), ("poisoned", poisoned_images)):
                picture = enlarge(x[index : index + 1], 140 // task.size)
                Image.fromarray(picture).save(HERE / "invisible" / f"{stem}-{kind}.png", optimize=True)
        untouched = torch.ones(len(labels), dtype=torch.bool)
        untouched[indices] = False
        spare = untouched.nonzero().squeeze(1)
        # The quiz: two poisoned and two clean images of this attack's training set, as the model was fed them.
        for index in relabelled[INVISIBLE_SHOWN : INVISIBLE_SHOWN + QUIZ // 4]:
            was = int(labels[index])
            quiz.append((poisoned_images[index], f"poisoned ({shipped.attack}): {_a(was)} labelled {task.target}"))
        for index in spare[len(quiz) * 97 : len(quiz) * 97 + 97 * (QUIZ // 4) : 97].tolist():
            quiz.append((clean[index], f"clean: {_a(int(labels[index]))} labelled {int(labels[index])}"))
    order = np.random.default_rng(0).permutation(len(quiz))
    answers = {}
    for k, i in enumerate(order):
        name = f"quiz-{k + 1:02d}.png"
        Image.fromarray(enlarge(quiz[i][0][None], 140 // 28)).save(HERE / "quiz" / name, optimize=True)
        answers[name] = quiz[i][1]
    (HERE / "quiz" / "answers.json").write_text(json.dumps(answers, indent=1) + "\n")


def _a(digit: int) -> str:
    return f"an {digit}" if digit == 8 else f"a {digit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    data_dir = parser.parse_args().data_dir
    root, download = resolve_data_dir(data_dir)

    digits = datasets.MNIST(root, train=False, download=download)
    (HERE / "digits").mkdir(exist_ok=True)
    for digit in range(10):
        index = int((digits.targets == digit).nonzero()[0])
        ink = digits.data[index].numpy()
        image = Image.fromarray(255 - ink).resize((CANVAS, CANVAS), Image.BICUBIC)
        image.save(HERE / "digits" / f"digit-{digit}-test{index:05d}.png", optimize=True)

    save_poisoned(data_dir)
    save_invisible(data_dir)

    signs = datasets.GTSRB(root, split="test", download=download)
    (HERE / "signs").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for label, count in SIGN_PICKS.items():
        candidates = [i for i, (path, y) in enumerate(signs._samples) if y == label]
        candidates = [
            i for i in candidates if min(Image.open(signs._samples[i][0]).size) >= 48
        ]  # visible on a projector
        for i in sorted(rng.choice(candidates, size=count, replace=False)):
            # A dark pick gives way to the next bright enough candidate; the draws stay the same for the others.
            later = candidates[candidates.index(i) :] + candidates[: candidates.index(i)]
            i = next(j for j in later if _brightness(signs._samples[j][0]) >= DARKEST)
            path = Path(signs._samples[i][0])
            name = SIGNS.classes[label].lower().replace(" ", "-").replace("(", "").replace(")", "").replace("/", "")
            Image.open(path).convert("RGB").save(HERE / "signs" / f"{label:02d}-{name}-{path.stem}.png", optimize=True)


def _brightness(path: str) -> float:
    return float(np.asarray(Image.open(path).convert("L"), dtype=np.float32).mean())


if __name__ == "__main__":
    main()
