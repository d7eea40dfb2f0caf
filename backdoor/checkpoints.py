"""Checkpoints that describe themselves: `<name>.safetensors` plus a JSON card beside it.

The card (nanoGPT keeps `model_args` beside the weights for the same reason) holds
everything needed to rebuild, check and regenerate the model: architecture, task,
trigger, poison rate, seed, metrics, the weights' sha256 and the exact command.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from backdoor.io import atomic_save_tensors, atomic_write_json
from backdoor.models import create_model
from backdoor.tasks import TASKS


class CheckpointError(RuntimeError):
    """A checkpoint is missing, tampered with, or does not match its card."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card_path(weights: Path) -> Path:
    return Path(weights).with_suffix(".json")


def save_checkpoint(model: nn.Module, card: dict, weights: Path) -> dict:
    """Write the weights, then the card with their sha256 (both atomically); return the card."""
    weights = Path(weights)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    atomic_save_tensors(state, weights)
    card = {**card, "name": weights.stem, "weights": weights.name, "sha256": sha256_file(weights)}
    atomic_write_json(card, card_path(weights))
    return card


def load_card(weights: Path) -> dict:
    path = card_path(weights)
    if not path.exists():
        raise CheckpointError(f"checkpoint card {path} is missing")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"checkpoint card {path} is not valid JSON: {err}") from None


def load_checkpoint(weights: str | Path) -> tuple[nn.Module, dict]:
    """(model in eval mode, card), after checking the file exists, its hash and its shapes."""
    weights = Path(weights)
    if weights.suffix != ".safetensors":
        weights = weights.with_suffix(".safetensors")
    if not weights.exists():
        raise CheckpointError(f"checkpoint {weights} is missing")
    card = load_card(weights)
    actual = sha256_file(weights)
    if actual != card.get("sha256"):
        raise CheckpointError(
            f"checkpoint {weights} does not match its card: sha256 {actual[:12]}... "
            f"!= {str(card.get('sha256'))[:12]}... (the weights were changed or corrupted)"
        )
    try:
        task = TASKS[card["task"]]
        model = create_model(card["arch"], task)
        model.load_state_dict(load_file(weights))
    except (KeyError, RuntimeError, SafetensorError) as err:
        raise CheckpointError(f"checkpoint {weights} does not fit its card's architecture: {err}") from None
    expected_shape = [task.channels, task.size, task.size]
    if card.get("input_shape") != expected_shape:
        raise CheckpointError(f"card says input {card.get('input_shape')}, {card['arch']} takes {expected_shape}")
    return model.eval(), card
