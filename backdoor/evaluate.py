"""Print a checkpoint's clean accuracy and backdoor metrics on the full test split.

python -m backdoor.evaluate models/mnist-backdoor.safetensors [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import sys

from backdoor.checkpoints import CheckpointError, load_checkpoint
from backdoor.data import DataError, load_split
from backdoor.evaluation import evaluate, format_metrics
from backdoor.tasks import TASKS
from backdoor.triggers import trigger_from_dict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backdoor.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="one or more .safetensors files")
    parser.add_argument("--data-dir", default=None, help="data folder (default: $BACKDOOR_DATA, else download)")
    args = parser.parse_args(argv)
    for path in args.checkpoints:
        try:
            model, card = load_checkpoint(path)
            task = TASKS[card["task"]]
            images, labels = load_split(task, train=False, data_dir=args.data_dir)
        except (CheckpointError, DataError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        metrics = evaluate(model, task, images, labels, trigger_from_dict(card["trigger"]), card["target"])
        print(f"{card['name']}: {task.dataset} test, {len(labels)} images, target {card['target_name']}")
        print(format_metrics(metrics, task))
    return 0


if __name__ == "__main__":
    sys.exit(main())
