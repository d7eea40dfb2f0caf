"""The checkpoints the app ships, with the settings that regenerate them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


@dataclass(frozen=True)
class Shipped:
    name: str
    task: str
    poison_rate: float  # fraction of the training set
    seed: int = 0


SHIPPED: tuple[Shipped, ...] = (
    Shipped("mnist-clean", "mnist", 0.0),
    Shipped("mnist-backdoor", "mnist", 0.01),  # the article's 1%
    Shipped("signs-clean", "signs", 0.0),
    Shipped("signs-backdoor", "signs", 0.01),  # the lowest of 1%, 2%, 5% that meets the goals
)
NAMES: tuple[str, ...] = tuple(s.name for s in SHIPPED)
# Made from mnist-backdoor by the spectral-signatures defense, not by `train --all`.
REPAIRED = "mnist-repaired"
APP_MODELS: tuple[str, ...] = (*NAMES, REPAIRED)
# The models each tab shows side by side, in the order of their panels.
DIGIT_MODELS: tuple[str, ...] = ("mnist-clean", "mnist-backdoor", REPAIRED)
SIGN_MODELS: tuple[str, ...] = ("signs-clean", "signs-backdoor")


def weights_path(name: str, models_dir: Path = MODELS_DIR) -> Path:
    return models_dir / f"{name}.safetensors"
