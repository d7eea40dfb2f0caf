"""The poisoning-rate experiment: clean accuracy and attack success against the poison rate.

    python -m backdoor.sweep mnist                  # default grid, 3 seeds, writes models/sweep-mnist.json
    python -m backdoor.sweep signs --seeds 2 --epochs 5
    python -m backdoor.sweep mnist --attack blend   # another registered attack: models/sweep-mnist-blend.json

Every (rate, seed) run trains from scratch on the real training split poisoned with
`add_trigger` and is evaluated on the full test split. Finished runs are written to the
JSON at once (atomically), so an interrupted sweep picks up where it stopped.
Fewer epochs than the shipped checkpoints keep the MNIST grid within 30 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from tqdm import tqdm

from backdoor.cli import Parser, add_data_dir, positive
from backdoor.data import DataError, dataset_source, load_split
from backdoor.evaluation import evaluate
from backdoor.io import atomic_write_json
from backdoor.poisoning import add_trigger
from backdoor.preprocess import to_float
from backdoor.report import sweep_path
from backdoor.tasks import TASKS, Task
from backdoor.train import RECIPES, attacked, fit
from backdoor.triggers import ATTACKS, trigger_from_dict

DEFAULT_RATES = {
    "mnist": (0.0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05),
    "signs": (0.0, 0.0025, 0.005, 0.01, 0.02, 0.05),
}
DEFAULT_EPOCHS = {"mnist": 4, "signs": 6}


def _key(rate: float, seed: int) -> str:
    return f"{rate:g}/seed{seed}"


def _same_recipe(a: dict, b: dict) -> bool:
    """Runs can be reused when everything but the grid (rates, seeds) is the same."""
    grid = ("rates", "seeds")

    def recipe(settings: dict) -> dict:  # a trigger written before the registry (no kind) reads as it is now
        return {k: trigger_from_dict(v).to_dict() if k == "trigger" else v for k, v in settings.items() if k not in grid}

    return recipe(a) == recipe(b)


def summarize(runs: dict[str, dict], rates: tuple[float, ...]) -> list[dict]:
    """Mean, min and max of CA and ASR per rate, over the seeds that have finished."""
    rows = []
    for rate in rates:
        done = [r for r in runs.values() if r["poison_rate"] == rate]
        if not done:
            continue
        row = {"poison_rate": rate, "n_runs": len(done)}
        for metric in ("clean_accuracy", "attack_success_rate"):
            values = [r[metric] for r in done]
            row[metric] = {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}
        rows.append(row)
    return rows


def run_sweep(
    task: Task,
    rates: tuple[float, ...],
    seeds: tuple[int, ...],
    epochs: int,
    out: Path,
    data_dir: str | None = None,
    limit: int | None = None,
) -> tuple[dict, int]:
    """Train and evaluate every (rate, seed) not already in `out`; return (results, runs trained now)."""
    recipe = replace(RECIPES[task.name], epochs=epochs)
    settings = {  # as JSON gives it back (lists, not tuples), to compare with a saved sweep
        "task": task.name,
        "arch": task.arch,
        "trigger": task.trigger.to_dict(),
        "target": task.target,
        "rates": list(rates),
        "seeds": list(seeds),
        "recipe": asdict(recipe),
        "limit": limit,
    }
    settings = json.loads(json.dumps(settings))
    results = {"settings": settings, "runs": {}, "seconds": 0.0}
    if out.exists():
        previous = json.loads(out.read_text())
        if _same_recipe(previous.get("settings", {}), settings):
            results["runs"] = previous["runs"]  # keep what is done, even when the grid grew
            results["seconds"] = previous.get("seconds", 0.0)
    train_images, train_labels = load_split(task, train=True, data_dir=data_dir)
    test_images, test_labels = load_split(task, train=False, data_dir=data_dir)
    if limit:
        keep = torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[:limit]
        train_images, train_labels = train_images[keep], train_labels[keep]
    clean = to_float(train_images)
    results["data"] = {"source": dataset_source(data_dir), "n_train": len(clean), "n_test": len(test_labels)}
    todo = [(rate, seed) for rate in rates for seed in seeds if _key(rate, seed) not in results["runs"]]
    for rate, seed in tqdm(todo, desc=f"{task.name} sweep", unit="run"):
        started = time.perf_counter()
        images, labels, poisoned = add_trigger(clean, train_labels, rate, task.target, seed, task.trigger)
        model = fit(task, images, labels, recipe, seed, label=f"rate {rate:g} seed {seed}")
        metrics = evaluate(model, task, test_images, test_labels)
        seconds = time.perf_counter() - started
        results["runs"][_key(rate, seed)] = {
            "poison_rate": rate,
            "seed": seed,
            "n_poisoned": len(poisoned),
            "clean_accuracy": metrics["clean_accuracy"],
            "attack_success_rate": metrics["attack_success_rate"],
            "seconds": round(seconds, 1),
        }
        results["seconds"] = round(results["seconds"] + seconds, 1)
        results["summary"] = summarize(results["runs"], rates)
        atomic_write_json(results, out)
    results["summary"] = summarize(results["runs"], rates)
    atomic_write_json(results, out)
    return results, len(todo)


def _rates(text: str) -> tuple[float, ...]:
    try:
        rates = tuple(float(r) for r in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of fractions") from None
    if not all(0.0 <= r <= 1.0 for r in rates):
        raise argparse.ArgumentTypeError(f"{text!r}: every rate must be a fraction in [0, 1]")
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m backdoor.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument(
        "--rates", type=_rates, default=None, help="comma-separated fractions (default: the task's grid)"
    )
    parser.add_argument(
        "--attack", choices=sorted(ATTACKS), default=None, help="a registered attack (default: the task's own)"
    )
    parser.add_argument("--seeds", type=positive, default=3, help="seeds 0..N-1 per rate (default 3)")
    parser.add_argument("--epochs", type=positive, default=None, help="default: 4 for mnist, 6 for signs")
    parser.add_argument("--limit", type=positive, default=None, help="train on a random subset of this many images")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default: models/sweep-TASK.json)")
    add_data_dir(parser)
    args = parser.parse_args(argv)
    torch.use_deterministic_algorithms(True)
    task = attacked(TASKS[args.task], args.attack)
    if task.trigger.channels != task.channels:
        parser.error(f"--attack {args.attack} is for {task.trigger.channels}-channel images, not {args.task}")
    out = args.out or sweep_path(task.name, attack=args.attack)
    try:
        results, trained = run_sweep(
            task,
            args.rates or DEFAULT_RATES[task.name],
            tuple(range(args.seeds)),
            args.epochs or DEFAULT_EPOCHS[task.name],
            out,
            args.data_dir,
            args.limit,
        )
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: finished runs are kept in {out}; run the same command to go on", file=sys.stderr)
        return 130
    print(f"{trained} run(s) trained now, {len(results['runs'])} in {out} ({results['seconds']:.0f} s in all)")
    for row in results["summary"]:
        ca, asr = row["clean_accuracy"], row["attack_success_rate"]
        print(
            f"rate {100 * row['poison_rate']:5.2f}%: CA {100 * ca['mean']:.2f}% "
            f"[{100 * ca['min']:.2f}, {100 * ca['max']:.2f}]  ASR {100 * asr['mean']:.2f}% "
            f"[{100 * asr['min']:.2f}, {100 * asr['max']:.2f}]  ({row['n_runs']} seeds)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
