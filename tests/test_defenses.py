"""The three defenses on the shipped checkpoints and real data, and the results shipped for the app.

Runs here use small, fast settings (fewer optimisation steps, the committed 1,000-image
samples); the shipped results in models/defenses were made with the CLIs' defaults.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from backdoor.charts import signed_anomaly
from backdoor.checkpoints import load_checkpoint
from backdoor.defenses import neural_cleanse, spectral, strip
from backdoor.defenses.common import result_path
from backdoor.defenses.results import STRIP_CLEAN, STRIP_FLAGGED, load_results, nc_title, nc_verdict, strip_verdict
from backdoor.evaluation import evaluate
from backdoor.preprocess import to_float
from backdoor.shipped import APP_MODELS, DIGIT_CAST, REPAIRED, weights_path
from backdoor.tasks import MNIST, SIGNS
from backdoor.train import training_set
from backdoor.triggers import apply_trigger
from tests.conftest import ROOT

FAST_NC = neural_cleanse.Settings(steps=200)


def test_anomaly_index_is_the_robust_z_score():
    norms = torch.tensor([10.0, 11.0, 12.0, 13.0, 1.0])  # median 11, |dev| = 1 0 1 2 10, MAD = 1
    expected = torch.tensor([1.0, 0.0, 1.0, 2.0, 10.0]) / 1.4826
    assert torch.allclose(neural_cleanse.anomaly_index(norms), expected)
    assert neural_cleanse.flagged_classes(norms) == [4]  # small and far out
    assert neural_cleanse.flagged_classes(torch.tensor([10.0, 11.0, 12.0, 13.0, 40.0])) == []  # large: not a backdoor


@pytest.mark.slow
@pytest.mark.parametrize("name, flagged", [("mnist-backdoor", [8]), ("mnist-clean", [])])
def test_neural_cleanse_flags_the_backdoor_target_and_nothing_on_the_clean_model(shipped, sample, name, flagged):
    model, card = shipped[name]
    summary, result = neural_cleanse.reverse_triggers(model, card, to_float(sample["mnist_images"]), FAST_NC)
    assert summary["flagged"] == flagged, summary["anomaly_index"]
    if flagged:
        # The model answers 8 for a white pixel at (3, 3) and, less surely, at (3, 5), (5, 3) and (5, 5)
        # (max-pooling); the smallest mask lands on one of them, in the blank top-left margin.
        row, col = summary["mask_peak"][8]
        assert max(abs(row - 3), abs(col - 3)) <= 2, (row, col)
        assert result.success[8] >= 0.99  # the recovered trigger works on the check images


@pytest.mark.parametrize("name", ["mnist-backdoor", "mnist-clean", "signs-backdoor", "signs-clean"])
def test_shipped_neural_cleanse_results_are_current_and_meet_the_goals(shipped, name):
    """MNIST: exactly the target on the backdoored model, nothing on the clean one. Signs: the target is
    flagged on the backdoored model and not on the clean one, which flags a sign that is cheap to reach
    without any backdoor (README: Neural Cleanse's false positives on GTSRB)."""
    summary = json.loads(result_path("nc", name).read_text())
    assert summary["model_sha256"] == shipped[name][1]["sha256"]  # made from the shipped weights
    expected = {"mnist-backdoor": [8], "mnist-clean": []}
    if name in expected:
        assert summary["flagged"] == expected[name]
    else:
        assert (SIGNS.target in summary["flagged"]) == name.endswith("backdoor")
    if name == "mnist-backdoor":
        assert summary["seconds"] <= 600  # the 10-minute budget per MNIST model on this CPU
    assert result_path("nc", name).with_name(f"nc-{name}-masks.png").stat().st_size > 1000


@pytest.mark.parametrize("task, name", [(MNIST, "mnist-backdoor"), (SIGNS, "signs-backdoor")])
def test_strip_entropy_is_lower_on_triggered_inputs(shipped, sample, task, name):
    model, _ = shipped[name]
    images = to_float(sample[f"{task.name}_images"])
    labels = sample[f"{task.name}_labels"]
    overlays, clean = images[:20], images[20:220]
    triggered = apply_trigger(
        clean[labels[20:220] != task.target], task.trigger, generator=torch.Generator().manual_seed(0)
    )
    h_clean = strip.strip_entropy(model, clean, overlays)
    h_triggered = strip.strip_entropy(model, triggered, overlays)
    summary = json.loads(result_path("strip", name).read_text())
    # STRIP's premise, a triggered input blended with others stays certain, holds for the pixel; a photographed
    # note is not (blended, a noted sign is less certain than a clean one): the results file says which, and so
    # does this sample
    lower = summary["entropy_triggered"]["median"] < summary["entropy_clean"]["median"]
    assert (h_triggered.median() < h_clean.median()) == lower
    threshold = strip.threshold_for(h_clean, 0.01)
    assert (h_clean < threshold).float().mean() <= 0.02  # the threshold rejects ~1% of clean inputs


@pytest.mark.parametrize("name", ["mnist-backdoor", "signs-backdoor"])
def test_shipped_strip_results_are_current_and_calibrated(shipped, name):
    summary = json.loads(result_path("strip", name).read_text())
    assert summary["model_sha256"] == shipped[name][1]["sha256"]
    assert shipped[name][1]["defenses"]["strip"]["far"] == summary["far"]  # the model's card reports it too
    assert summary["frr"] <= 0.03  # calibrated for 1% on other clean images
    if name == "mnist-backdoor":  # where STRIP works: the pixel's inputs stay certain when blended
        assert summary["entropy_triggered"]["median"] < summary["entropy_clean"]["median"]


def test_strip_verdict_uses_and_prints_the_exact_threshold():
    """The signs threshold is ~1e-7 bits: rounded to four decimals it was 0, and nothing could fall below it."""
    summary = json.loads(result_path("strip", "mnist-backdoor").read_text())
    signs = json.loads(result_path("strip", "signs-backdoor").read_text())
    assert load_results(("signs-backdoor",)).detectors["signs-backdoor"].threshold == signs["threshold_bits"] > 0
    threshold = summary["threshold_bits"]
    below, above = strip_verdict(threshold / 2, summary), strip_verdict(threshold * 2, summary)
    assert STRIP_FLAGGED in below and STRIP_CLEAN in above
    assert f"< threshold {strip.bits(threshold)};" in below
    assert strip.bits(signs["threshold_bits"]) not in ("0.00", "0")


def test_where_strip_misses_most_triggers_the_live_check_gives_no_verdict():
    """On signs STRIP misses ~88% of stickered signs: "looks clean" would teach the wrong thing."""
    summary = json.loads(result_path("strip", "signs-backdoor").read_text())
    assert summary["far"] > 0.5
    for entropy in (summary["threshold_bits"] / 2, summary["threshold_bits"] * 2):
        line = strip_verdict(entropy, summary)
        assert "cannot judge" in line and STRIP_FLAGGED not in line and STRIP_CLEAN not in line
        assert f"misses {100 * summary['far']:.2f}%" in line


def test_a_flag_on_a_model_trained_clean_is_called_a_false_alarm():
    summary = json.loads(result_path("nc", "signs-clean").read_text())
    if not summary["flagged"]:  # the shipped clean model may have none: its result with one flag, then
        k = max(range(len(summary["classes"])), key=signed_anomaly(summary).__getitem__)
        summary = {**summary, "flagged": [k], "flagged_names": [summary["classes"][k]]}
    assert "false alarm" in nc_title(summary, trained_clean=True)
    assert "A false alarm" in nc_verdict(summary, trained_clean=True)
    clean_digits = json.loads(result_path("nc", "mnist-clean").read_text())
    assert "larger" in nc_verdict(clean_digits)  # class 1's tall bar is explained, not left to contradict
    assert signed_anomaly(clean_digits)[1] < -2  # and drawn pointing down


def test_spectral_signatures_find_the_poisoned_training_images(shipped, data_dir):
    model, card = shipped["mnist-backdoor"]
    images, labels, poisoned = training_set(MNIST, card["poison_rate"], card["target"], card["seed"], str(data_dir))
    summary, removed, shown = spectral.find_poisoned(model, images, labels, poisoned, expected=card["n_poisoned"])
    assert summary["recall"] >= 0.90
    assert len(removed) == summary["n_removed"] == 10 * round(1.5 * card["n_poisoned"])  # 1.5x per class
    assert set(poisoned.tolist()) >= set(shown[:12].tolist())  # the gallery's top images are poisoned ones


def test_the_repaired_model_has_no_backdoor_and_keeps_its_accuracy(shipped, sample):
    repaired, card = shipped[REPAIRED]
    backdoored = shipped["mnist-backdoor"][1]
    # On the full test set, from the card: the goals.
    assert card["metrics"]["attack_success_rate"] < 0.05
    assert card["metrics"]["clean_accuracy"] >= backdoored["metrics"]["clean_accuracy"] - 0.005
    assert card["defense"]["recall"] >= 0.90 and card["repaired_from"] == "mnist-backdoor"
    # Recomputed on the committed sample, within its 95% binomial margin.
    metrics = evaluate(repaired, MNIST, sample["mnist_images"], sample["mnist_labels"])
    n = metrics["n_non_target"]
    assert metrics["attack_success_rate"] < 0.05 + 1.96 * math.sqrt(0.05 * 0.95 / n)


def test_the_app_finds_every_shipped_defense_result():
    results = load_results(APP_MODELS)
    assert set(results.neural_cleanse) == {"mnist-clean", *DIGIT_CAST.backdoored.values(), "signs-backdoor", "signs-clean"}
    assert set(results.detectors) == {*DIGIT_CAST.backdoored.values(), "signs-backdoor"}  # a live STRIP per attack
    assert set(results.activation_clustering) == set(DIGIT_CAST.models) - {REPAIRED}
    assert results.suspicious["mnist-backdoor"].shape == (24, 1, 28, 28)
    assert load_checkpoint(weights_path(REPAIRED))[1]["name"] == REPAIRED


def test_strip_results_written_elsewhere_leave_the_shipped_card_alone(data_dir, tmp_path):
    card = weights_path("mnist-backdoor").with_suffix(".json")
    before = card.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "backdoor.defenses.strip", "mnist-backdoor", "--eval", "50", "--out-dir", str(tmp_path),
         "--data-dir", str(data_dir)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "strip-mnist-backdoor.json").read_text())["n_clean"] == 50
    assert card.read_bytes() == before  # an experiment's figures are not the shipped model's


@pytest.mark.parametrize(
    "module, args, message",
    [
        ("neural_cleanse", ["no-such-model"], "error: checkpoint"),
        ("strip", ["mnist-backdoor", "--frr", "2"], "not a fraction"),
        ("spectral", ["mnist-backdoor", "--expected", "0"], "not a positive integer"),
    ],
)
def test_cli_errors_are_one_line(module, args, message, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", f"backdoor.defenses.{module}", *args, "--out-dir", str(tmp_path)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode in (1, 2)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not any(tmp_path.iterdir())
