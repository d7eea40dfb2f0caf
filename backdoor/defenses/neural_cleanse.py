"""Neural Cleanse (Wang et al., 2019): reverse-engineer, for every class, the smallest trigger
that sends clean inputs to it.

A backdoor is a shortcut: its target class can be reached with a tiny mask, every honest
class needs a large one. The mask L1 norms are compared with a robust z-score (median
absolute deviation); a class whose norm lies below the median with anomaly index > 2 is flagged.

    python -m backdoor.defenses.neural_cleanse mnist-backdoor     # writes models/defenses/nc-mnist-backdoor.*
"""

from __future__ import annotations

import copy
import sys
import time
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from backdoor.cli import positive
from backdoor.defenses.common import (
    defense_parser,
    load_inspected_and_test_split,
    provenance,
    result_path,
    write_result,
)
from backdoor.preprocess import to_float, to_uint8

MAD_CONSISTENCY = 1.4826  # makes the median absolute deviation estimate a normal distribution's std
ANOMALY_THRESHOLD = 2.0


@dataclass(frozen=True)
class Settings:
    """Optimisation settings (the defaults are MNIST's; see TASK_SETTINGS)."""

    steps: int = 400
    batch_size: int = 32  # clean images per class per step
    lr: float = 0.1
    init_cost: float = 1e-3  # weight of the mask's L1 norm, adapted per class
    cost_factor: float = 1.5
    patience: int = 10  # steps between checks (and cost updates)
    success: float = 0.99  # share of the check images a mask must flip to count
    check_size: int = 256  # fixed clean images on which a mask must reach `success`
    n_images: int = 2000  # clean images to draw batches from
    seed: int = 0


# 43 classes of 3x32x32 cost 8x the compute of MNIST's 10 of 28x28 per image: fewer images per step.
TASK_SETTINGS = {"mnist": Settings(), "signs": Settings(steps=300, batch_size=16, check_size=128)}


@dataclass(frozen=True)
class Reversed:
    masks: torch.Tensor  # (K, H, W) in [0, 1]
    patterns: torch.Tensor  # (K, C, H, W) in [0, 1]
    norms: torch.Tensor  # (K,) L1 norm of each mask
    success: torch.Tensor  # (K,) share of the check images sent to the class by its mask and pattern


def stamp(images: torch.Tensor, masks: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """(K, B, C, H, W): every image with every class's mask and pattern, (1 - m) * x + m * p."""
    m = masks[:, None, None]  # (K, 1, 1, H, W)
    return (1 - m) * images[None] + m * patterns[:, None]


def reverse_engineer(model: nn.Module, images: torch.Tensor, settings: Settings, num_classes: int) -> Reversed:
    """Optimise all classes' masks and patterns at once, in one batched forward pass per step.

    Every `patience` steps each class's mask is tried on a fixed set of check images: the
    cost of the mask's size rises if it flips >= `success` of them and falls otherwise (the
    schedule of the original code), and the smallest mask that passed is kept. Judging on a
    fixed set, not the 32-image batch, keeps a lucky batch from crowning a mask that fails
    on the next one.
    """
    model = copy.deepcopy(model).eval().requires_grad_(False)  # gradients only for the masks
    generator = torch.Generator().manual_seed(settings.seed)
    _, channels, height, width = images.shape
    mask_logits = (2 * torch.randn(num_classes, height, width, generator=generator)).requires_grad_(True)
    pattern_logits = (2 * torch.randn(num_classes, channels, height, width, generator=generator)).requires_grad_(True)
    optimizer = torch.optim.Adam([mask_logits, pattern_logits], lr=settings.lr, betas=(0.5, 0.9))
    cost = torch.full((num_classes,), settings.init_cost)
    targets = torch.arange(num_classes).repeat_interleave(settings.batch_size)
    best_masks = torch.ones(num_classes, height, width)
    best_patterns = torch.zeros(num_classes, channels, height, width)
    best_norms = torch.full((num_classes,), float("inf"))
    check = images[torch.randperm(len(images), generator=generator)[: settings.check_size]]
    success = torch.zeros(num_classes)
    for step in tqdm(range(settings.steps), desc="neural cleanse", unit="step", leave=False):
        batch = images[torch.randint(len(images), (settings.batch_size,), generator=generator)]
        masks, patterns = torch.sigmoid(mask_logits), torch.sigmoid(pattern_logits)
        logits = model(stamp(batch, masks, patterns).flatten(0, 1))
        ce = F.cross_entropy(logits, targets, reduction="none").view(num_classes, -1).mean(1)
        norms = masks.flatten(1).sum(1)
        loss = (ce + cost * norms).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if (step + 1) % settings.patience == 0:  # judge on a fixed check set, not the noisy batch
            with torch.no_grad():
                masks, patterns = torch.sigmoid(mask_logits), torch.sigmoid(pattern_logits)
                rate = _success(model, check, masks, patterns)
                norms = masks.flatten(1).sum(1)
                flipped = rate >= settings.success
                better = flipped & (norms < best_norms)
                best_norms = torch.where(better, norms, best_norms)
                best_masks[better], best_patterns[better] = masks[better], patterns[better]
                success = torch.where(better, rate, success)
                cost = torch.where(flipped, cost * settings.cost_factor, cost / settings.cost_factor)
    return Reversed(best_masks, best_patterns, best_masks.flatten(1).sum(1), success)


def _success(model: nn.Module, images: torch.Tensor, masks: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """(K,) share of `images` that each class's mask and pattern send to that class."""
    preds = model(stamp(images, masks, patterns).flatten(0, 1)).argmax(1).view(len(masks), -1)
    return (preds == torch.arange(len(masks))[:, None]).float().mean(1)


def anomaly_index(norms: torch.Tensor) -> torch.Tensor:
    """Robust z-score of each norm: |norm - median| / (1.4826 * MAD)."""
    median = norms.median()
    mad = MAD_CONSISTENCY * (norms - median).abs().median()
    return (norms - median).abs() / mad.clamp_min(1e-12)


def flagged_classes(norms: torch.Tensor) -> list[int]:
    """Classes with an unusually small mask: below the median and anomaly index > 2."""
    index = anomaly_index(norms)
    return [k for k in range(len(norms)) if norms[k] < norms.median() and index[k] > ANOMALY_THRESHOLD]


def mask_grid(result: Reversed, columns: int = 11, scale: int = 3) -> Image.Image:
    """Two rows per line of classes: the mask (white = kept) and the trigger it paints (mask x pattern)."""
    k, channels, height, width = result.patterns.shape
    columns = min(columns, k)
    tiles_mask = result.masks[:, None].expand(k, 3, height, width)
    painted = result.masks[:, None] * result.patterns
    tiles_trigger = painted.expand(k, 3, height, width) if channels == 1 else painted
    lines = -(-k // columns)
    pad = 2
    grid = torch.full((3, lines * 2 * (height + pad), columns * (width + pad)), 0.5)
    for i in range(k):
        top, left = (i // columns) * 2 * (height + pad), (i % columns) * (width + pad)
        grid[:, top : top + height, left : left + width] = tiles_mask[i]
        grid[:, top + height + pad : top + 2 * height + pad, left : left + width] = tiles_trigger[i]
    image = Image.fromarray(to_uint8(grid).permute(1, 2, 0).numpy())
    return image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def reverse_triggers(model: nn.Module, card: dict, images: torch.Tensor, settings: Settings) -> tuple[dict, Reversed]:
    """The JSON-ready result for one model and the reversed triggers."""
    started = time.perf_counter()
    result = reverse_engineer(model, images, settings, len(card["classes"]))
    index = anomaly_index(result.norms)
    flagged = flagged_classes(result.norms)
    peaks = [divmod(int(m.argmax()), m.shape[1]) for m in result.masks]
    summary = {
        "defense": "neural_cleanse",
        "settings": asdict(settings),
        "classes": card["classes"],
        "mask_l1": [round(float(v), 3) for v in result.norms],
        "anomaly_index": [round(float(v), 3) for v in index],
        "mask_success": [round(float(v), 4) for v in result.success],
        "mask_peak": [list(p) for p in peaks],
        "flagged": flagged,
        "flagged_names": [card["classes"][k] for k in flagged],
        "verdict": "backdoored" if flagged else "clean",
        "seconds": round(time.perf_counter() - started, 1),
    }
    return summary, result


def main(argv: list[str] | None = None) -> int:
    parser = defense_parser("neural_cleanse", __doc__)
    parser.add_argument(
        "--steps", type=positive, default=None, help="optimisation steps (default: 400 mnist, 300 signs)"
    )
    parser.add_argument("--images", type=positive, default=Settings.n_images, help="clean test images to use")
    parser.add_argument("--seed", type=int, default=Settings.seed)
    args = parser.parse_args(argv)
    loaded = load_inspected_and_test_split(args.model, args.data_dir)
    if loaded is None:
        return 1
    model, card, task, images, _ = loaded
    settings = replace(TASK_SETTINGS[task.name], n_images=args.images, seed=args.seed)
    if args.steps:
        settings = replace(settings, steps=args.steps)
    pool = to_float(
        images[torch.randperm(len(images), generator=torch.Generator().manual_seed(args.seed))[: args.images]]
    )
    summary, result = reverse_triggers(model, card, pool, settings)
    summary = {**provenance(card, "neural_cleanse", argv), **summary}
    out = result_path("nc", card["name"], args.out_dir)
    write_result(
        summary,
        out,
        images={"masks": mask_grid(result)},
        tensors={"masks": result.masks, "patterns": result.patterns},
    )
    flagged = ", ".join(summary["flagged_names"]) or "none"
    smallest = int(result.norms.argmin())
    print(
        f"{card['name']}: flagged {flagged}; smallest mask: {task.classes[smallest]}, anomaly index "
        f"{summary['anomaly_index'][smallest]:.2f}; {summary['seconds']} s -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
