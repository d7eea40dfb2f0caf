"""Backdoor metrics (BadNets; the definitions used by BackdoorBench).

- clean accuracy (CA): plain test accuracy;
- attack success rate (ASR): test images whose true label is not the target,
  stamped with the trigger, that the model assigns to the target;
- the article's ASR variant: the same over all test images (target class included);
- robust accuracy (RA): stamped non-target images still given their true label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import torch
from torch import nn

from backdoor.preprocess import to_float
from backdoor.tasks import Task
from backdoor.triggers import Patch, Trigger, apply_trigger, random_positions

DARK = 0.2  # mean brightness below which an image counts as dark (GTSRB has many dusk photos)
EVAL_SEED = 0  # fixes the sticker's random positions, so every evaluation sees the same test set


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted labels for float images in [0, 1], (N, C, H, W)."""
    model.eval()
    return torch.cat([model(images[i : i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])


def evaluate(
    model: nn.Module,
    task: Task,
    images: torch.Tensor,
    labels: torch.Tensor,
    trigger: Trigger | None = None,
    target: int | None = None,
    seed: int = EVAL_SEED,
) -> dict[str, float]:
    """CA, ASR (non-target and all images) and RA on uint8 test images, as fractions."""
    trigger = trigger or task.trigger
    target = task.target if target is None else target
    clean = to_float(images)
    stamped = apply_trigger(clean, trigger, generator=torch.Generator().manual_seed(seed))
    pred_clean = predict(model, clean)
    pred_stamped = predict(model, stamped)
    non_target = labels != target
    metrics = {
        "clean_accuracy": (pred_clean == labels).float().mean().item(),
        "attack_success_rate": (pred_stamped[non_target] == target).float().mean().item(),
        "attack_success_rate_all": (pred_stamped == target).float().mean().item(),
        "robust_accuracy": (pred_stamped[non_target] == labels[non_target]).float().mean().item(),
    }
    # A trigger a student places (the sticker) is also measured as the app places it, at seeded random spots: for a
    # photographed note the poisoner's notes vary (above) and the app's click presents one; for a patch both agree.
    if getattr(trigger, "is_random", False):
        positions = random_positions(trigger, len(clean), *clean.shape[2:], torch.Generator().manual_seed(seed))
        pred_placed = predict(model, apply_trigger(clean, trigger, positions))
        metrics["placed_attack_success_rate"] = (pred_placed[non_target] == target).float().mean().item()
    else:
        pred_placed = pred_stamped
    metrics |= {
        # of the images it reads right, the share it still reads right with the (placed) trigger on: ~1 for a model
        # the trigger does not move (a clean model should not care about a sticker), dark ones apart
        "trigger_kept": _kept(pred_clean, pred_placed, labels, slice(None)),
        "trigger_kept_dark": _kept(pred_clean, pred_placed, labels, clean.mean((1, 2, 3)) < DARK),
        "n_test": len(labels),
        "n_non_target": int(non_target.sum()),
    }
    if task.source is not None:
        source = labels == task.source
        metrics["source_stamped_as_target"] = (pred_stamped[source] == target).float().mean().item()
        metrics["source_stamped_as_source"] = (pred_stamped[source] == task.source).float().mean().item()
        metrics["source_placed_as_source"] = (pred_placed[source] == task.source).float().mean().item()
        metrics["n_source"] = int(source.sum())
    return metrics


# Colours to hold a sign's sticker against (the same note, or square, in each): the other corners of the RGB cube and
# mid-grey, all at least 0.67 from the note's yellow. What they cost a model is what covering that much of a sign
# costs; only a backdoor makes the sticker's own colour cost more.
OTHER_COLOURS: dict[str, tuple[float, float, float]] = {
    "black": (0.0, 0.0, 0.0),
    "white": (1.0, 1.0, 1.0),
    "grey": (0.5, 0.5, 0.5),
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "cyan": (0.0, 1.0, 1.0),
    "magenta": (1.0, 0.0, 1.0),
}


def kept_under_squares(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    trigger: Patch,
    colours: Mapping[str, tuple[float, ...]] = OTHER_COLOURS,
    seed: int = EVAL_SEED,
) -> dict[str, float]:
    """Of the uint8 images the model reads right, the share it still reads right with the trigger stamped ("trigger",
    the same figure as `evaluate`'s trigger_kept) and with a square of the trigger's size at the same positions in
    each other colour: whether the trigger moves the model as a trigger or only as something covering the image.
    The colours need the trigger's channel count (OTHER_COLOURS: RGB, the signs' sticker)."""
    clean = to_float(images)
    n, _, height, width = clean.shape
    positions = (
        random_positions(trigger, n, height, width, torch.Generator().manual_seed(seed)) if trigger.is_random else None
    )
    before = predict(model, clean)
    squares = {"trigger": trigger, **{name: replace(trigger, color=c) for name, c in colours.items()}}
    return {
        name: _kept(before, predict(model, apply_trigger(clean, square, positions)), labels, slice(None))
        for name, square in squares.items()
    }


def _kept(before: torch.Tensor, after: torch.Tensor, labels: torch.Tensor, which) -> float:
    right = before[which] == labels[which]
    return ((after[which] == labels[which]) & right).float().sum().item() / max(1, int(right.sum()))


def format_metrics(metrics: dict[str, float], task: Task) -> str:
    """Human-readable lines, percentages with two decimals."""
    names = {
        "clean_accuracy": "clean accuracy (CA)",
        "attack_success_rate": "attack success rate (ASR, non-target images)",
        "attack_success_rate_all": "ASR, article's variant (all images)",
        "robust_accuracy": "robust accuracy (stamped, true label kept)",
        "placed_attack_success_rate": "ASR of the trigger as the app places it",
        "trigger_kept": "right answers kept with the trigger on",
        "trigger_kept_dark": "the same, dark images (mean < 0.2)",
    }
    if task.source is not None:
        source = task.classes[task.source]
        names["source_stamped_as_target"] = f"{source} + trigger read as {task.classes[task.target]}"
        names["source_stamped_as_source"] = f"{source} + trigger still read as {source}"
        names["source_placed_as_source"] = f"{source} + placed trigger still read as {source}"
    return "\n".join(f"{label:<52} {100 * metrics[key]:6.2f}%" for key, label in names.items() if key in metrics)
