"""The example pictures the app offers, with their captions: real test images and poisoned training images."""

from __future__ import annotations

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
