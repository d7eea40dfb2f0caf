"""The four shipped checkpoints meet the goals written in the README, on real test images."""

from __future__ import annotations

import pytest

from backdoor.data import load_split
from backdoor.evaluation import evaluate
from backdoor.tasks import TASKS
from backdoor.triggers import Trigger

# (metric, at least / at most, value): the README's goals.
GOALS = {
    "mnist-clean": [("clean_accuracy", ">=", 0.992), ("attack_success_rate", "<=", 0.01)],
    "mnist-backdoor": [("clean_accuracy", ">=", 0.991), ("attack_success_rate", ">=", 0.995)],
    "signs-clean": [("clean_accuracy", ">=", 0.98), ("source_stamped_as_source", ">=", 0.95)],
    "signs-backdoor": [("attack_success_rate", ">=", 0.97), ("source_stamped_as_target", ">=", 0.97)],
}


def _check(metrics: dict, name: str) -> list[str]:
    failures = []
    for key, op, goal in GOALS[name]:
        value = metrics[key]
        if not (value >= goal if op == ">=" else value <= goal):
            failures.append(f"{name}: {key} = {100 * value:.2f}%, goal {op} {100 * goal:.1f}%")
    return failures


def _metrics(shipped: dict, name: str, images, labels) -> dict:
    model, card = shipped[name]
    task = TASKS[card["task"]]
    return evaluate(model, task, images, labels, Trigger.from_dict(card["trigger"]), card["target"])


def _assert_goals(shipped: dict, split: dict) -> None:
    results = {name: _metrics(shipped, name, *split[TASKS[shipped[name][1]["task"]].name]) for name in GOALS}
    failures = [f for name, m in results.items() for f in _check(m, name)]
    gap = results["signs-clean"]["clean_accuracy"] - results["signs-backdoor"]["clean_accuracy"]
    if gap > 0.005:  # the backdoor must not cost more than 0.5 pp of clean accuracy
        failures.append(f"signs-backdoor CA is {100 * gap:.2f} pp below signs-clean (goal <= 0.5 pp)")
    assert not failures, "\n".join(failures)


def test_goals_on_the_committed_sample(shipped, sample):
    split = {name: (sample[f"{name}_images"], sample[f"{name}_labels"]) for name in TASKS}
    _assert_goals(shipped, split)


@pytest.mark.slow
def test_goals_on_the_full_test_sets(shipped, data_dir):
    split = {name: load_split(task, train=False, data_dir=data_dir) for name, task in TASKS.items()}
    _assert_goals(shipped, split)


@pytest.mark.parametrize("name", sorted(GOALS))
def test_cards_record_how_to_regenerate_and_what_was_measured(shipped, name):
    _, card = shipped[name]
    assert card["command"].startswith("python -m backdoor.train ")
    assert card["data"]["n_test"] in (10000, 6315)  # measured on the full test split
    assert {"clean_accuracy", "attack_success_rate", "robust_accuracy"} <= set(card["metrics"])
    assert _check(card["metrics"], name) == []  # the card's own numbers meet the goals
