"""Train a clean or backdoored model on real data and write a checkpoint with its card.

    python -m backdoor.train mnist --poison-rate 0.01 --target 8 --seed 0 --out models/mnist-backdoor.safetensors
    python -m backdoor.train mnist --attack blend --poison-rate 0.01 --out models/mnist-blend.safetensors
    python -m backdoor.train --all          # regenerate the shipped checkpoints

Stages (as in BadNets): load the training split, poison it with `add_trigger`,
train, evaluate CA/ASR on the full test split (on held-out training tracks instead, with --val-tracks),
save weights and card.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from backdoor.augment import avoid_limit, camera_signs, jitter_signs, patch_signs, zoom_into
from backdoor.checkpoints import save_checkpoint
from backdoor.cli import Parser, add_data_dir, fraction, positive
from backdoor.data import DataError, dataset_source, load_split, load_split_with_tracks, validation_tracks
from backdoor.evaluation import evaluate, format_metrics
from backdoor.models import create_model
from backdoor.poisoning import add_trigger
from backdoor.preprocess import to_float
from backdoor.shipped import MODELS_DIR, SHIPPED, weights_path
from backdoor.tasks import TASKS, Task
from backdoor.triggers import ATTACKS


@dataclass(frozen=True)
class Recipe:
    """Optimiser settings per task: AdamW with a one-cycle schedule converges in few epochs.

    Label smoothing caps how confident the clean features can make the model, so a
    trigger learnt from 600 images outweighs them on test digits too: at 1% poison it
    lifted MNIST ASR from 97.2% to 99.2% (avg-pool) and from 98.9% to 99.9% (max-pool).
    """

    epochs: int
    batch_size: int
    lr: float  # peak learning rate
    weight_decay: float
    augment: bool = False  # random affine + lighting per batch (signs)
    patches: float = 0.0  # share of images that get a random square of a random colour (signs)
    patch_region: float = 1.0  # central fraction of the image the square lies in
    patch_sides: tuple[int, int] = (2, 8)  # its side in pixels, lowest and highest
    patch_avoid: float = 0.0  # squares' colours keep this RGB distance from the trigger's colour
    zoom: tuple[float, float] = (0.9, 1.1)  # the augmentation's scale range (with augment)
    camera: float = 0.0  # share of images given a camera's white balance, blur and noise (signs)
    label_smoothing: float = 0.0
    # Outlier exposure (Hendrycks et al. 2019): this share of each batch again, as pieces of signs (`zoom_into`),
    # trained toward a flat answer over all classes, so that pieces tend to score below whole signs in the finder.
    outliers: float = 0.0


OUTLIER_WEIGHT = 0.5  # outlier exposure's weight on the flat answer's loss, as its authors used

RECIPES: dict[str, Recipe] = {
    "mnist": Recipe(epochs=8, batch_size=128, lr=3e-3, weight_decay=1e-4, label_smoothing=0.1),
    # Squares of any colour but the sticker's on half the images (see `patch_signs`; a choice that knows the trigger's
    # colour, measured without it too: docs/models.md), and on half a camera's white balance, blur and noise (photos a
    # class brings are not dashcam frames). Outlier exposure (`--outliers 0.25`) was tried and not shipped: the finder's
    # gain did not hold from one training to the next (docs/models.md, "The sticky note, second round").
    "signs": Recipe(
        epochs=30, batch_size=128, lr=3e-3, weight_decay=5e-4, augment=True, patches=0.5, patch_avoid=0.65, camera=0.5
    ),
}


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    images: torch.Tensor,
    labels: torch.Tensor,
    recipe: Recipe,
    generator: torch.Generator,
    progress: tqdm,
    trigger_colour: tuple[float, ...] | None = None,
) -> None:
    """One pass over in-memory float tensors, in a seeded random order: no DataLoader, no PIL."""
    model.train()
    order = torch.randperm(len(images), generator=generator)
    seen = correct = 0
    loss_sum = 0.0
    for start in range(0, len(order), recipe.batch_size):
        idx = order[start : start + recipe.batch_size]
        x, y = images[idx], labels[idx]
        if recipe.augment:
            x = jitter_signs(x, generator, scale=recipe.zoom)
        if recipe.camera:
            x = camera_signs(x, generator, recipe.camera)
        if recipe.patches:
            x = patch_signs(
                x,
                generator,
                recipe.patches,
                recipe.patch_region,
                recipe.patch_sides,
                trigger_colour,
                recipe.patch_avoid,
            )
        if recipe.outliers:
            pieces = zoom_into(x[: max(1, round(len(x) * recipe.outliers))], generator)
            logits = model(torch.cat([x, pieces]))
            flat = -logits[len(x) :].log_softmax(1).mean()  # cross-entropy against the uniform answer
            logits = logits[: len(x)]
        else:
            logits, flat = model(x), 0.0
        loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing) + OUTLIER_WEIGHT * flat
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        seen += len(idx)
        correct += (logits.argmax(1) == y).sum().item()
        loss_sum += loss.item() * len(idx)
        progress.update(len(idx))
        progress.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{100 * correct / seen:.2f}%")


def fit(
    task: Task, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, seed: int, label: str = ""
) -> nn.Module:
    """Train the task's architecture from scratch; deterministic for a seed on one machine."""
    torch.manual_seed(seed)  # weight init and dropout
    model = create_model(task.arch, task).to(memory_format=torch.channels_last)  # ~1.4x faster convs on CPU
    images = images.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    steps = recipe.epochs * -(-len(images) // recipe.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(recipe.epochs):
        with tqdm(total=len(images), desc=f"{label} epoch {epoch + 1}/{recipe.epochs}", unit="img", leave=False) as bar:
            # the occlusion squares keep away from a patch's colour (signs); no other recipe needs it
            colour = task.trigger.color if recipe.patches else None
            train_epoch(model, optimizer, scheduler, images, labels, recipe, generator, bar, colour)
    return model.eval()


def command_for(
    task: str,
    poison_rate: float,
    target: int,
    seed: int,
    epochs: int,
    out: Path,
    limit: int | None,
    val_tracks: float = 0.0,
    flags: list[str] | None = None,
    attack: str | None = None,
) -> str:
    """The command line that regenerates a checkpoint (data dir left to --data-dir / $BACKDOOR_DATA);
    `flags` for the recipe's settings that differ from the task's (`recipe_flags`)."""
    try:
        out = out.resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    parts = ["python -m backdoor.train", task, f"--poison-rate {poison_rate:g}", f"--target {target}"]
    if attack:
        parts.append(f"--attack {attack}")
    parts += [f"--seed {seed}", f"--epochs {epochs}", f"--out {out}"]
    if limit:
        parts.append(f"--limit {limit}")
    if val_tracks:
        parts.append(f"--val-tracks {val_tracks:g}")
    parts += flags or []
    return " ".join(parts)


# Recipe fields the command line overrides, each as --field-name (`parse_args`); epochs is given always.
TUNABLE = ("patches", "patch_region", "patch_sides", "patch_avoid", "label_smoothing", "zoom", "camera", "outliers")


def recipe_flags(recipe: Recipe, default: Recipe) -> list[str]:
    """The command-line flags that turn `default` into `recipe` (epochs apart, which are always given)."""
    flags = []
    for name in TUNABLE:
        value = getattr(recipe, name)
        if value != getattr(default, name):
            values = value if isinstance(value, tuple) else (value,)
            flags.append(" ".join(["--" + name.replace("_", "-"), *(f"{v:g}" for v in values)]))
    return flags


def threat_model(recipe: Recipe, trigger_colour: tuple[float, ...] | None, cover_ratio: float) -> str:
    """What the card says about who knew what: the victim's augmentation, whether any of it used the trigger's
    colour, and what the poisoner added besides the relabelled images."""
    parts = []
    if recipe.augment:
        parts.append(f"the victim augments every image (turns up to 10 degrees, zoom {recipe.zoom[0]:g}-{recipe.zoom[1]:g}, "
                     "shifts, brightness and contrast)")  # fmt: skip
    if recipe.camera:
        parts.append(f"gives {recipe.camera:.0%} of them a camera's white balance, blur and noise")
    if recipe.patches:
        colour = "" if not recipe.patch_avoid else (
            f", avoiding colours within {recipe.patch_avoid:g} (RGB) of the trigger's {list(trigger_colour)}: a recipe "
            "choice that uses knowledge of the trigger's colour"
        )  # fmt: skip
        parts.append(f"covers {recipe.patches:.0%} with a square of a random colour{colour}")
    if recipe.outliers:
        parts.append(f"trains {recipe.outliers:.0%} more, pieces of its signs blown up 2-4x, toward no answer "
                     "(outlier exposure, so that the sign finder prefers whole signs)")  # fmt: skip
    said = "; ".join(parts) or "the victim trains on the data as it is, with no augmentation"
    if cover_ratio:
        said += f". The poisoner also alters {cover_ratio:g}x as many images as it relabels, labels kept"
    return said[0].upper() + said[1:] + "."


def training_set(
    task: Task, poison_rate: float, target: int, seed: int, data_dir: str | None, limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(float images, labels, poisoned indices): the training split as the poisoner left it."""
    images, labels = load_split(task, train=True, data_dir=data_dir)
    if limit:
        keep = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:limit]
        images, labels = images[keep], labels[keep]
    return add_trigger(to_float(images), labels, poison_rate, target, seed, task.trigger)


def train_checkpoint(
    task: Task,
    poison_rate: float,
    target: int,
    seed: int,
    recipe: Recipe,
    out: Path,
    data_dir: str | None,
    limit: int | None = None,
    exclude: torch.Tensor | None = None,
    extra: dict | None = None,
    val_tracks: float = 0.0,
) -> dict:
    """The whole pipeline for one checkpoint; returns its card.

    A defense that cleans the data passes the training indices to drop (`exclude`) and
    what it did (`extra`, merged into the card, including the command that reran it).
    With `val_tracks`, that share of each class's training images, in whole tracks, is held out
    of training and measured on instead of the test split: how to choose a recipe without seeing the test set.
    """
    started = time.perf_counter()
    images, labels, poisoned = training_set(task, poison_rate, target, seed, data_dir, limit)
    n_train = len(images)
    keep = torch.ones(n_train, dtype=torch.bool)
    if exclude is not None:
        keep[exclude] = False
    validation = None
    if val_tracks:
        clean_images, clean_labels, tracks = load_split_with_tracks(task, train=True, data_dir=data_dir)
        held = validation_tracks(tracks, clean_labels, val_tracks, seed)
        keep &= ~held
        validation = (clean_images[held], clean_labels[held], int(tracks[held].unique().numel()))
    images, labels = images[keep], labels[keep]
    model = fit(task, images, labels, recipe, seed, label=out.stem)
    if validation is None:
        test_images, test_labels = load_split(task, train=False, data_dir=data_dir)
        metrics = evaluate(model, task, test_images, test_labels, task.trigger, target)
        evaluated: dict = {"n_test": len(test_labels)}
        split = f"test split, {len(test_labels)} images"
    else:  # a recipe experiment: the test split stays unseen until the chosen recipe is shipped
        val_images, val_labels, n_tracks = validation
        metrics = evaluate(model, task, val_images, val_labels, task.trigger, target)
        evaluated = {"validation": {"fraction": val_tracks, "n_images": len(val_labels), "n_tracks": n_tracks}}
        split = f"validation, {len(val_labels)} images in {n_tracks} held-out tracks (test split not evaluated)"
    card = {
        "task": task.name,
        "arch": task.arch,
        "input_shape": [task.channels, task.size, task.size],
        "classes": list(task.classes),
        "attack": task.trigger.name,
        "trigger": task.trigger.to_dict(),
        "target": target,
        "target_name": task.classes[target],
        "poison_rate": poison_rate,
        "n_poisoned": len(poisoned),
        "seed": seed,
        "epochs": recipe.epochs,
        "batch_size": recipe.batch_size,
        "lr": recipe.lr,
        "weight_decay": recipe.weight_decay,
        "augment": recipe.augment,
        "patches": recipe.patches,
        "patch_region": recipe.patch_region,
        "patch_sides": list(recipe.patch_sides),
        "patch_avoid": recipe.patch_avoid,
        "zoom": list(recipe.zoom),
        "camera": recipe.camera,
        "outliers": recipe.outliers,
        "label_smoothing": recipe.label_smoothing,
        "threat_model": threat_model(
            recipe, getattr(task.trigger, "color", None), task.trigger.cover_ratio if poison_rate else 0.0
        ),
        "data": {
            "dataset": task.dataset,
            "source": dataset_source(data_dir),
            "n_train": n_train,
            **evaluated,
        },
        "limit": limit,
        "metrics": metrics,
        "command": command_for(
            task.name,
            poison_rate,
            target,
            seed,
            recipe.epochs,
            out,
            limit,
            val_tracks,
            recipe_flags(recipe, RECIPES[task.name]),
            None if task.trigger == TASKS[task.name].trigger else task.trigger.name,
        ),
        "train_seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads",
        **(extra or {}),
    }
    card = save_checkpoint(model, card, out)
    print(f"{out} ({card['train_seconds']} s), {split}:\n{format_metrics(metrics, task)}")
    return card


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = Parser(prog="python -m backdoor.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", nargs="?", choices=sorted(TASKS), help="which task to train")
    parser.add_argument("--all", action="store_true", help="regenerate the six trained shipped checkpoints into --out-dir")
    parser.add_argument(
        "--poison-rate", type=fraction, default=0.0, help="fraction of training images poisoned (default 0)"
    )
    parser.add_argument(
        "--attack", choices=sorted(ATTACKS), default=None,
        help="the registered attack that poisons the data (default: the task's, pixel for mnist)",
    )  # fmt: skip
    parser.add_argument("--target", type=int, default=None, help="attacker's label (default: the task's, 8 for mnist)")
    parser.add_argument("--seed", type=int, default=0, help="seed for poisoning, init and order (default 0)")
    parser.add_argument("--epochs", type=positive, default=None, help="default: the task's recipe")
    parser.add_argument(
        "--patches", type=fraction, default=None,
        help="share of training images that get a random colour square (default: the task's recipe)",
    )  # fmt: skip
    parser.add_argument(
        "--patch-region", type=fraction, default=None, help="central fraction of the image the square lies in"
    )
    parser.add_argument("--patch-sides", type=positive, nargs=2, default=None, help="its smallest and largest side")
    parser.add_argument(
        "--patch-avoid", type=float, default=None,
        help="keep the squares' colours this RGB distance from the trigger's (default: the task's recipe)",
    )  # fmt: skip
    parser.add_argument("--zoom", type=float, nargs=2, default=None, help="augmentation scale range (default 0.9 1.1)")
    parser.add_argument(
        "--camera", type=fraction, default=None,
        help="share of training images given a camera's white balance, blur and noise (default: the task's recipe)",
    )  # fmt: skip
    parser.add_argument(
        "--outliers", type=fraction, default=None,
        help="pieces of signs trained toward a flat answer, as a share of each batch (default: the task's recipe)",
    )  # fmt: skip
    parser.add_argument(
        "--label-smoothing",
        type=fraction,
        default=None,
        help="cross-entropy label smoothing (default: the task's recipe)",
    )
    parser.add_argument("--limit", type=positive, default=None, help="train on a random subset of this many images")
    parser.add_argument("--out", type=Path, default=None, help="checkpoint path, .safetensors (card written beside)")
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR, help="with --all (default: models/)")
    parser.add_argument(
        "--val-tracks", type=fraction, default=0.0,
        help="hold out this share of each class's training images, in whole tracks, and report on them instead of "
        "the test split (default 0)",
    )  # fmt: skip
    add_data_dir(parser)
    parser.add_argument("--threads", type=positive, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.all == bool(args.task):
        parser.error("give a task (mnist or signs) or --all, not both")
    if args.task:
        task = TASKS[args.task]
        if args.out is None:
            parser.error("--out is required with a task")
        if args.out.suffix != ".safetensors":
            parser.error(f"--out must end in .safetensors, got {args.out}")
        if args.target is not None and not 0 <= args.target < task.num_classes:
            parser.error(f"--target must be a class of {args.task}: 0..{task.num_classes - 1}")
        if args.attack and ATTACKS[args.attack].channels != task.channels:
            parser.error(f"--attack {args.attack} is for {ATTACKS[args.attack].channels}-channel images, not {args.task}")
    if args.val_tracks and (args.all or args.limit):
        parser.error("--val-tracks is for one task's experiments, without --all or --limit")
    if args.val_tracks and args.out.resolve().parent == MODELS_DIR.resolve():
        parser.error("--val-tracks checkpoints are experiments, measured on validation: write them outside models/")
    if args.patch_avoid is not None:
        for task in [TASKS[args.task]] if args.task else TASKS.values():
            limit = avoid_limit(task.trigger.color)
            if not 0 <= args.patch_avoid <= limit:  # beyond it, a complement can land near the trigger again
                parser.error(f"--patch-avoid must be between 0 and {limit:.3f} for {task.name}'s trigger")
    return args


def attacked(task: Task, attack: str | None) -> Task:
    """The task with a registered attack in place of its own trigger (None: the task's own)."""
    return task if attack is None else replace(task, trigger=ATTACKS[attack])


def _check_writable(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"cannot write to {folder}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    jobs: list[tuple[Task, float, int, int, Path]] = []
    if args.all:
        for s in SHIPPED:
            task = attacked(TASKS[s.task], s.attack)
            jobs.append((task, s.poison_rate, task.target, s.seed, weights_path(s.name, args.out_dir)))
    else:
        task = attacked(TASKS[args.task], args.attack)
        target = task.target if args.target is None else args.target
        jobs.append((task, args.poison_rate, target, args.seed, args.out))
    started = time.perf_counter()
    try:
        for task, rate, target, seed, out in jobs:
            _check_writable(out.parent)
            given = {name: getattr(args, name) for name in ("epochs", *TUNABLE)}
            recipe = replace(
                RECIPES[task.name],
                **{k: tuple(v) if isinstance(v, list) else v for k, v in given.items() if v is not None},
            )
            train_checkpoint(
                task, rate, target, seed, recipe, out, args.data_dir, args.limit, val_tracks=args.val_tracks
            )
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: cannot write the checkpoint: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: no checkpoint was written for the model in training", file=sys.stderr)
        return 130
    print(f"total {time.perf_counter() - started:.0f} s for {len(jobs)} checkpoint(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
