"""What the defense CLIs share: which checkpoint to inspect and where results go."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch import nn

from backdoor.checkpoints import card_path, load_card, load_checkpoint
from backdoor.io import atomic_save_image, atomic_save_tensors, atomic_write_json
from backdoor.shipped import MODELS_DIR, weights_path
from backdoor.tasks import TASKS, Task

DEFENSES_DIR = MODELS_DIR / "defenses"


def checkpoint_path(model: str, models_dir: Path = MODELS_DIR) -> Path:
    """A shipped name (mnist-backdoor) or a path to a .safetensors file."""
    path = Path(model)
    return path if path.suffix == ".safetensors" or path.parent != Path() else weights_path(model, models_dir)


def load_inspected(model: str) -> tuple[nn.Module, dict, Task]:
    """(model, card, task) of the checkpoint a defense inspects; raises CheckpointError."""
    net, card = load_checkpoint(checkpoint_path(model))
    return net, card, TASKS[card["task"]]


def record_in_card(model: str, defense: str, figures: dict) -> None:
    """Add a defense's headline figures to the inspected checkpoint's card (the weights, and so
    their sha256, are untouched), so the card says how the model fares against it."""
    weights = checkpoint_path(model)
    card = load_card(weights)
    card.setdefault("defenses", {})[defense] = figures
    atomic_write_json(card, card_path(weights))


def result_path(defense: str, model_name: str, out_dir: Path = DEFENSES_DIR) -> Path:
    """models/defenses/<defense>-<model>.json; images and tensors sit beside it with other suffixes."""
    return out_dir / f"{defense}-{model_name}.json"


def write_result(
    summary: dict,
    path: Path,
    images: dict[str, Image.Image] | None = None,
    tensors: dict[str, torch.Tensor] | None = None,
) -> None:
    """The JSON summary, a PNG per named image (`<stem>-<name>.png`) and one safetensors file, atomically."""
    for name, image in (images or {}).items():
        atomic_save_image(image, path.with_name(f"{path.stem}-{name}.png"))
    if tensors:
        atomic_save_tensors(tensors, path.with_suffix(".safetensors"))
    atomic_write_json(summary, path)
