"""What the defense CLIs share: which checkpoint to inspect and where results go."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from backdoor.checkpoints import CheckpointError, card_path, load_card, load_checkpoint
from backdoor.cli import Parser, add_data_dir
from backdoor.io import atomic_save_image, atomic_save_tensors, atomic_write_json
from backdoor.shipped import MODELS_DIR, weights_path
from backdoor.tasks import TASKS, Task
from backdoor.triggers import trigger_from_dict

DEFENSES_DIR = MODELS_DIR / "defenses"


MODEL_HELP = "a checkpoint name in models/ (e.g. mnist-backdoor) or a .safetensors path"


def defense_parser(module: str, doc: str, model_help: str = MODEL_HELP) -> Parser:
    """The arguments every defense CLI takes: the model to inspect, --out-dir and --data-dir."""
    parser = Parser(prog=f"python -m backdoor.defenses.{module}", description=doc.split("\n\n")[0])
    parser.add_argument("model", help=model_help)
    parser.add_argument("--out-dir", type=Path, default=DEFENSES_DIR, help="default: models/defenses")
    add_data_dir(parser)
    return parser


def provenance(card: dict, module: str, argv: list[str] | None) -> dict:
    """What every result records about its making: the inspected model, its weights' hash, the command."""
    command = " ".join([f"python -m backdoor.defenses.{module}", *(argv or sys.argv[1:])])
    return {"model": card["name"], "model_sha256": card["sha256"], "command": command}


def checkpoint_path(model: str, models_dir: Path = MODELS_DIR) -> Path:
    """A shipped name (mnist-backdoor) or a path to a .safetensors file."""
    path = Path(model)
    return path if path.suffix == ".safetensors" or path.parent != Path() else weights_path(model, models_dir)


def load_inspected(model: str) -> tuple[nn.Module, dict, Task]:
    """(model, card, task) of the checkpoint a defense inspects; raises CheckpointError."""
    net, card = load_checkpoint(checkpoint_path(model))
    return net, card, inspected_task(card)


def inspected_task(card: dict) -> Task:
    """The task as the checkpoint was attacked: its card's registered attack and target in the task's place, so
    that STRIP stamps, and spectral signatures rebuilds the poisoned set with, the trigger this model learnt."""
    task = TASKS[card["task"]]
    return replace(task, trigger=trigger_from_dict(card["trigger"]), target=card["target"])


def load_inspected_and_test_split(
    model: str, data_dir: str | None
) -> tuple[nn.Module, dict, Task, torch.Tensor, torch.Tensor] | None:
    """(model, card, task, uint8 test images, labels) for a defense CLI; on a missing or bad
    checkpoint or data set, prints the one-line error and returns None."""
    from backdoor.data import DataError, load_split  # here: the app imports these modules, data imports torchvision

    try:
        net, card, task = load_inspected(model)
        images, labels = load_split(task, train=False, data_dir=data_dir)
    except (CheckpointError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return None
    return net, card, task, images, labels


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
