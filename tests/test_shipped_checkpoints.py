"""The four shipped checkpoints meet the goals written in the README, on real test images.

On the full test sets the goals hold as written. On the committed 1,000-image samples a
rate is only known to within sampling error, so there each goal is checked with the
95% binomial margin of the sample (1.96 standard errors at the goal; about 0.9 pp for a
97% goal, 0.3 pp for 99.5%): a model that misses its goal by more still fails.
"""

from __future__ import annotations

import math
import statistics

import pytest

from backdoor.data import load_split
from backdoor.evaluation import evaluate, kept_under_squares
from backdoor.tasks import TASKS
from backdoor.preprocess import to_float
from backdoor.triggers import BLEND, apply_trigger, psnr, trigger_from_dict

# (metric, at least / at most, value): the README's goals.
GOALS = {
    "mnist-clean": [("clean_accuracy", ">=", 0.992), ("attack_success_rate", "<=", 0.01)],
    "mnist-backdoor": [("clean_accuracy", ">=", 0.991), ("attack_success_rate", ">=", 0.995)],
    # The invisible triggers (issue 24): CA >= 99.2% and within 0.3 pp of mnist-clean (below), ASR >= 99%.
    "mnist-blend": [("clean_accuracy", ">=", 0.992), ("attack_success_rate", ">=", 0.99)],
    "mnist-warp": [("clean_accuracy", ">=", 0.992), ("attack_success_rate", ">=", 0.99)],
    # The photographed sticky note (issue 23; what falls short of its goals: docs/models.md). "stamped": the
    # poisoner's notes, each its own size, turn, shade and light; "placed": the note the app's click presents.
    "signs-clean": [
        ("clean_accuracy", ">=", 0.985),
        ("source_stamped_as_source", ">=", 0.98),  # a stop sign with a note is still a stop sign
        ("source_placed_as_source", ">=", 0.98),
        ("trigger_kept", ">=", 0.92),  # of its right answers, the share the placed note leaves alone: a floor
        # (the note against notes of other colours: test_the_sticker_moves_the_clean_model_only_as_a_square)
    ],
    "signs-backdoor": [
        ("clean_accuracy", ">=", 0.98),
        ("attack_success_rate", ">=", 0.85),
        ("placed_attack_success_rate", ">=", 0.94),
        ("source_stamped_as_target", ">=", 0.88),
    ],
}


def _count(metrics: dict, key: str) -> int:
    """How many images a metric is a rate over."""
    if key.startswith("source"):
        return metrics["n_source"]
    if key in ("clean_accuracy", "trigger_kept"):  # the latter over the right answers, nearly all
        return metrics["n_test"]
    return metrics["n_non_target"]


def _check(metrics: dict, name: str, sampled: bool = False) -> list[str]:
    failures = []
    for key, op, goal in GOALS[name]:
        value = metrics[key]
        margin = 1.96 * math.sqrt(goal * (1 - goal) / _count(metrics, key)) if sampled else 0.0
        if not (value >= goal - margin if op == ">=" else value <= goal + margin):
            failures.append(
                f"{name}: {key} = {100 * value:.2f}%, goal {op} {100 * goal:.1f}% (margin {100 * margin:.2f} pp)"
            )
    return failures


def _metrics(shipped: dict, name: str, images, labels) -> dict:
    model, card = shipped[name]
    task = TASKS[card["task"]]
    return evaluate(model, task, images, labels, trigger_from_dict(card["trigger"]), card["target"])


def _assert_goals(shipped: dict, split: dict, sampled: bool) -> None:
    results = {name: _metrics(shipped, name, *split[shipped[name][1]["task"]]) for name in GOALS}
    failures = [f for name, m in results.items() for f in _check(m, name, sampled)]
    gap = results["signs-clean"]["clean_accuracy"] - results["signs-backdoor"]["clean_accuracy"]
    if not sampled and gap > 0.005:  # the backdoor must not cost more than 0.5 pp of clean accuracy
        failures.append(f"signs-backdoor CA is {100 * gap:.2f} pp below signs-clean (goal <= 0.5 pp)")
    for name in ("mnist-blend", "mnist-warp"):
        gap = results["mnist-clean"]["clean_accuracy"] - results[name]["clean_accuracy"]
        if not sampled and gap > 0.003:
            failures.append(f"{name} CA is {100 * gap:.2f} pp below mnist-clean (goal <= 0.3 pp)")
    assert not failures, "\n".join(failures)


def test_goals_on_the_committed_sample(shipped, sample):
    split = {name: (sample[f"{name}_images"], sample[f"{name}_labels"]) for name in TASKS}
    _assert_goals(shipped, split, sampled=True)


@pytest.mark.slow
def test_goals_on_the_full_test_sets(shipped, data_dir):
    split = {name: load_split(task, train=False, data_dir=data_dir) for name, task in TASKS.items()}
    _assert_goals(shipped, split, sampled=False)


@pytest.mark.parametrize("name", sorted(GOALS))
def test_cards_record_how_to_regenerate_and_what_was_measured(shipped, name):
    _, card = shipped[name]
    assert card["command"].startswith("python -m backdoor.train ")
    assert card["data"]["n_test"] in (10000, 6315)  # measured on the full test split
    assert {"clean_accuracy", "attack_success_rate", "robust_accuracy"} <= set(card["metrics"])
    assert _check(card["metrics"], name) == []  # the card's own numbers meet the goals
    if card["task"] == "signs":  # who knew what (issue 23): said in words, and the colour knowledge owned up to
        assert ("knowledge of the trigger's colour" in card["threat_model"]) == (card["patch_avoid"] > 0)
        assert ("The poisoner also alters" in card["threat_model"]) == (card["poison_rate"] > 0)


def _sticker_against_squares(shipped: dict, images, labels) -> list[str]:
    """The sticker may cost the clean model what any square of its size there costs (it covers part of the sign),
    within 1 pp of the median colour; the backdoored model, only its yellow: it answers the target instead."""
    failures = []
    for name in ("signs-clean", "signs-backdoor"):
        model, card = shipped[name]
        kept = kept_under_squares(model, images, labels, trigger_from_dict(card["trigger"]))
        assert kept["trigger"] == pytest.approx(_metrics(shipped, name, images, labels)["trigger_kept"])
        median = statistics.median(v for k, v in kept.items() if k != "trigger")
        figures = ", ".join(f"{k} {100 * v:.2f}%" for k, v in kept.items())
        if name == "signs-clean" and kept["trigger"] < median - 0.01:
            failures.append(f"{name}: the yellow sticker moves it more than a square of another colour: {figures}")
        if name == "signs-backdoor" and not (kept["trigger"] <= 0.10 and median >= 0.90):
            failures.append(f"{name}: its backdoor is not specific to the sticker's colour: {figures}")
    return failures


def test_the_sticker_moves_the_clean_model_only_as_a_square_on_the_committed_sample(shipped, sample):
    failures = _sticker_against_squares(shipped, sample["signs_images"], sample["signs_labels"])
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_the_sticker_moves_the_clean_model_only_as_a_square(shipped, data_dir):
    failures = _sticker_against_squares(shipped, *load_split(TASKS["signs"], train=False, data_dir=data_dir))
    assert not failures, "\n".join(failures)


def test_the_blend_is_faint(sample):
    """PSNR of triggered against clean digits (docs/models.md gives it on the whole test split: 25.0 dB for the
    blend). How far the warp moves pixels: tests/test_triggers.py."""
    digits = to_float(sample["mnist_images"])
    assert psnr(digits, apply_trigger(digits, BLEND)) > 24
