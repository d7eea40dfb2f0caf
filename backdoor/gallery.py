"""The example pictures the app offers, with their captions: real test images and poisoned training images."""

from __future__ import annotations

import json
from pathlib import Path

from backdoor.tasks import SIGNS, TASKS

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"


def examples(kind: str, folder: Path = EXAMPLES_DIR) -> list[str]:
    """The PNG files of one gallery ("digits", "signs", "poisoned"), in name order."""
    return sorted(str(p) for p in (folder / kind).glob("*.png"))


def digit_caption(path: str) -> str:
    return Path(path).name.split("-")[1]  # digit-7-test00000.png


def sign_caption(path: str) -> str:
    return SIGNS.classes[int(Path(path).name[:2])]  # 14-stop-02992.png


def poisoned_caption(path: str) -> str:
    task, _, was, now = Path(path).stem.split("-")  # mnist-train10678-was03-now08
    classes = TASKS[task].classes
    return f"was {classes[int(was[3:])]}, now labelled {classes[int(now[3:])]}"


def invisible_caption(path: str) -> str:
    """blend-train01234-was03-now08-poisoned.png -> "blend, poisoned: labelled 8" (its clean original: "was 3")."""
    attack, _, was, now, kind = Path(path).stem.split("-")
    classes = TASKS["mnist"].classes
    if kind == "clean":
        return f"{attack}, before: a {classes[int(was[3:])]}"
    return f"{attack}, poisoned: labelled {classes[int(now[3:])]}"


def quiz_answers(folder: Path = EXAMPLES_DIR) -> dict[str, str]:
    """The quiz's pictures (file name -> what it was), in name order; none where the examples were not made."""
    answers = folder / "quiz" / "answers.json"
    return json.loads(answers.read_text()) if answers.exists() else {}
