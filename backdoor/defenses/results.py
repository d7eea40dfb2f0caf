"""Shipped defense results, loaded for the app and turned into plain sentences, tables and plot data.

Everything here reads what the defense CLIs wrote under models/defenses; nothing is recomputed,
except STRIP's per-input entropy, which is the point of a run-time check.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file

from backdoor.charts import signed_anomaly
from backdoor.checkpoints import load_checkpoint
from backdoor.defenses.common import DEFENSES_DIR, result_path
from backdoor.defenses.strip import Strip, bits, superimpose
from backdoor.gallery import digit_caption, examples, sign_caption
from backdoor.inference import sign_input
from backdoor.preprocess import digit_from_drawing, load_image, to_uint8
from backdoor.shipped import weights_path
from backdoor.tasks import MNIST, SIGNS
from backdoor.triggers import apply_trigger

STRIP_WEAK_FAR = 0.2  # above this miss rate the app warns that STRIP's verdict is unreliable
STRIP_FLAGGED = "**carries a trigger**"
STRIP_CLEAN = "**looks clean**"


@dataclass(frozen=True)
class DefenseResults:
    """Whatever the defense CLIs have written; a missing file leaves its entry out."""

    neural_cleanse: dict[str, dict] = field(default_factory=dict)  # model name -> summary
    nc_triggers: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # masks (K,H,W), patterns (K,C,H,W)
    strip: dict[str, dict] = field(default_factory=dict)
    detectors: dict[str, Strip] = field(default_factory=dict)
    spectral: dict[str, dict] = field(default_factory=dict)
    suspicious: dict[str, torch.Tensor] = field(default_factory=dict)  # model name -> uint8 images
    activation_clustering: dict[str, dict] = field(default_factory=dict)  # model name -> summary


def load_results(models: tuple[str, ...], folder: Path = DEFENSES_DIR) -> DefenseResults:
    results = DefenseResults()
    for name in models:
        nc = result_path("nc", name, folder)
        if nc.exists():
            results.neural_cleanse[name] = json.loads(nc.read_text())
            results.nc_triggers[name] = load_file(nc.with_suffix(".safetensors"))
        strip = result_path("strip", name, folder)
        if strip.exists():
            results.strip[name] = summary = json.loads(strip.read_text())
            results.detectors[name] = Strip.load(strip.with_suffix(".safetensors"), summary["threshold_bits"])
        spectral = result_path("spectral", name, folder)
        if spectral.exists():
            results.spectral[name] = json.loads(spectral.read_text())
            results.suspicious[name] = load_file(spectral.with_suffix(".safetensors"))["images"]
        clustering = result_path("ac", name, folder)
        if clustering.exists():
            results.activation_clustering[name] = json.loads(clustering.read_text())
    return results


def percent(value: float | None) -> str:
    """A share as the tables and sentences print it: 0.9912 -> "99.12%", unknown -> "–"."""
    return "–" if value is None else f"{100 * value:.2f}%"


def strip_verdict(entropy: float, summary: dict) -> str:
    """One line for the current input: the verdict, the entropy against the threshold, and how sure it is.
    Where STRIP misses most triggered inputs (signs), no verdict: one would teach the wrong thing."""
    threshold = summary["threshold_bits"]
    if summary["far"] > STRIP_WEAK_FAR:
        return (
            f"STRIP cannot judge this input: on the test set it misses {percent(summary['far'])} of triggered inputs "
            f"(it wrongly flags {percent(summary['frr'])} of clean ones), so its verdict would mean little. "
            f"Entropy of the backdoored model's answers on {summary['settings']['n_overlays']} blends: "
            f"{bits(entropy)} bits, threshold {bits(threshold)}."
        )
    verdict = STRIP_FLAGGED if entropy < threshold else STRIP_CLEAN
    sign = "<" if entropy < threshold else "≥"
    return (
        f"STRIP check on the backdoored model: {verdict} (entropy of its answers on "
        f"{summary['settings']['n_overlays']} blends "
        f"{bits(entropy)} bits {sign} threshold {bits(threshold)}; on the test set it misses "
        f"{percent(summary['far'])} of triggered inputs and wrongly flags {percent(summary['frr'])} of clean ones)."
    )


def nc_title(summary: dict, trained_clean: bool) -> str:
    """The heading of one model's result: a flag on a model trained on clean data is a false alarm."""
    if not summary["flagged"]:
        return f"{summary['model']}: no backdoor found"
    names = ", ".join(summary["flagged_names"])
    if trained_clean:
        return f"{summary['model']}: flags {names}, a false alarm (this model was trained on clean data)"
    return f"{summary['model']}: backdoored, flags {names}"


def nc_verdict(summary: dict, trained_clean: bool = False) -> str:
    """The Neural Cleanse verdict for one model, in a sentence a class can read."""
    index = summary["anomaly_index"]
    middle = median(summary["mask_l1"])
    if summary["flagged"]:
        names = ", ".join(f"**{n}**" for n in summary["flagged_names"])
        k = summary["flagged"][0]
        finding = (
            f"class {names} needs a trigger of only {summary['mask_l1'][k]:.1f} pixels' worth of mask; the median "
            f"class needs {middle:.1f}. Anomaly index {index[k]:.2f} > 2."
        )
        if not trained_clean:
            return f"**Backdoored.** {finding[0].upper()}{finding[1:]}"
        return (
            f"**A false alarm.** This model was trained on clean data, yet {finding} Classes recognised from one "
            "small, distinctive figure are cheap to reach without any backdoor, so Neural Cleanse flags them too: "
            "a flag is a lead to check, not proof."
        )
    signed = signed_anomaly(summary)  # positive: a smaller mask than the median, the side a backdoor is on
    worst = max((v for v, norm in zip(signed, summary["mask_l1"]) if norm < middle), default=0.0)
    high = [i for i, v in enumerate(signed) if v < -2]
    note = (
        f" Class {', '.join(summary['classes'][i] for i in high)} stands out the other way: its mask is *larger* "
        "than usual (it is hard to reach), which no backdoor causes, so it counts for nothing."
        if high
        else ""
    )
    return (
        "**No backdoor found.** No class is unusually easy to reach: of the classes whose mask is smaller than "
        f"the median, the largest anomaly index is {worst:.2f} ≤ 2.{note}"
    )


def nc_tiles(summary: dict, triggers: dict[str, torch.Tensor], scale: int = 4) -> list[tuple[np.ndarray, str]]:
    """One labelled picture per class: its recovered mask (white = kept) beside the trigger it paints,
    enlarged pixel by pixel, captioned with the class, its mask size and whether it is flagged."""
    masks, patterns = triggers["masks"], triggers["patterns"]
    tiles = []
    for k, name in enumerate(summary["classes"]):
        mask = masks[k][None].expand(3, -1, -1)
        painted = (masks[k][None] * patterns[k]).expand(3, -1, -1)
        gap = torch.full((3, mask.shape[1], 2), 0.5)
        tile = to_uint8(torch.cat([mask, gap, painted], dim=2)).permute(1, 2, 0).numpy()
        tile = np.kron(tile, np.ones((scale, scale, 1), np.uint8))
        flag = ", flagged" if k in summary["flagged"] else ""
        tiles.append((tile, f"{name}: mask {summary['mask_l1'][k]:.1f}{flag}"))
    return tiles


def _why_strip_fails(name: str, summary: dict) -> str:
    """Why STRIP misses a model's triggered inputs, from its own entropies: either blending washes the trigger out
    (triggered inputs no surer than clean ones: the warp's bend), or clean inputs are as sure (signs)."""
    if summary["entropy_triggered"]["median"] >= summary["entropy_clean"]["median"]:
        return "blending washes the trigger out, so triggered inputs are no surer than clean ones"
    what = "signs" if name.startswith("signs") else "inputs"
    return f"blended with other {what}, even clean {what} keep a confident answer, so entropy barely separates them"


def strip_weakness(strip: dict[str, dict]) -> str:
    """A warning for each model where STRIP misses many triggered inputs, with the numbers."""
    lines = [
        f"**STRIP is weak on `{name}`**: at {percent(s['frr'])} false alarms it misses {percent(s['far'])} of triggered "
        f"inputs (median entropy {bits(s['entropy_clean']['median'])} bits clean, "
        f"{bits(s['entropy_triggered']['median'])} triggered): {_why_strip_fails(name, s)}."
        for name, s in strip.items()
        if s["far"] > STRIP_WEAK_FAR
    ]
    return "\n\n".join(lines)


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = [f"| {' | '.join(cells)} |" for cells in (header, *rows)]
    return "\n".join([lines[0], "|---" * len(header) + "|", *lines[1:]])


def strip_table(strip: dict[str, dict]) -> str:
    header = [
        "model", "blends", "threshold (1% clean rejected)", "clean inputs flagged (FRR)", "triggered inputs missed (FAR)",
        "entropy clean / triggered (median)",
    ]  # fmt: skip
    rows = [
        [
            f"`{name}`",
            str(s["settings"]["n_overlays"]),
            f"{bits(s['threshold_bits'])} bits",
            f"{percent(s['frr'])} of {s['n_clean']:,}",
            f"{percent(s['far'])} of {s['n_triggered']:,}",
            f"{bits(s['entropy_clean']['median'])} / {bits(s['entropy_triggered']['median'])} bits",
        ]
        for name, s in strip.items()
    ]
    return _markdown_table(header, rows)


def nc_table(neural_cleanse: dict[str, dict]) -> str:
    header = ["model", "flagged classes", "anomaly index of the smallest mask", "smallest / median mask L1", "time"]
    rows = []
    for name, s in neural_cleanse.items():
        norms = pd.Series(s["mask_l1"])
        k = int(norms.idxmin())
        rows.append(
            [
                f"`{name}`",
                ", ".join(s["flagged_names"]) or "none",
                f"{s['anomaly_index'][k]:.2f} ({s['classes'][k]})",
                f"{norms[k]:.1f} / {norms.median():.1f}",
                f"{s['seconds']:.0f} s",
            ]
        )
    return _markdown_table(header, rows)


def defense_tables(folder: Path = DEFENSES_DIR) -> str:
    """The README's defense results: Neural Cleanse and STRIP per model, from the shipped JSON."""
    results = load_results(("mnist-backdoor", "mnist-clean", "signs-backdoor", "signs-clean"), folder)
    return f"{nc_table(results.neural_cleanse)}\n\n{strip_table(results.strip)}"


def spectral_summary(summary: dict, repaired: dict | None, backdoored: dict) -> str:
    """What spectral signatures found, and what retraining without it bought."""
    text = (
        f"Spectral signatures scored all {summary['n_train']:,} training images of `{summary['model']}` and removed "
        f"the {summary['removed_per_class']:,} most suspicious of every class ({summary['n_removed']:,} in all). "
        f"That caught **{summary['poisoned_removed']} of the {summary['n_poisoned']} poisoned images "
        f"(recall {percent(summary['recall'])})**, at the price of {summary['clean_removed']:,} clean ones."
    )
    if repaired:
        before, after = backdoored["metrics"], repaired["metrics"]
        text += (
            f" Retrained on what was left, the **repaired** model has clean accuracy {percent(after['clean_accuracy'])} "
            f"(backdoored: {percent(before['clean_accuracy'])}) and the trigger works on only "
            f"{percent(after['attack_success_rate'])} of digits (backdoored: {percent(before['attack_success_rate'])})."
        )
    return text


# --- one plain line above each result, for a class of 15-year-olds; the numbers stay one click away ------------
def _sureness(index: float) -> str:
    """How sure Neural Cleanse is, from the anomaly index (2 is its own threshold)."""
    return "very sure" if index > 4 else "fairly sure" if index > 2 else "not sure at all"


def nc_plain(summary: dict, trained_clean: bool) -> str:
    """What Neural Cleanse looked at, what it found and how sure it is, without its vocabulary."""
    looked = "It searched for the smallest patch that turns any input into each answer."
    if not summary["flagged"]:
        return f"{looked} No answer is unusually easy to force: **nothing found**."
    k = summary["flagged"][0]
    name = summary["classes"][k]
    times = median(summary["mask_l1"]) / max(summary["mask_l1"][k], 1e-9)
    times_text = f"{times:.0f}" if times >= 3 else f"{times:.1f}"  # 1.54 is not "2 times"
    found = f"For **{name}** a patch {times_text} times smaller than usual is enough ({_sureness(summary['anomaly_index'][k])})"
    if trained_clean:
        return f"{looked} {found}, yet this model was trained on clean data: **a false alarm**."
    return f"{looked} {found}: **the backdoor's target**."


def strip_plain(name: str, summary: dict) -> str:
    """What STRIP looked at, how often it is right, in whole numbers of a hundred."""
    caught = round(100 * (1 - summary["far"]))
    wrong = max(1, round(100 * summary["frr"])) if summary["frr"] > 0 else 0  # "about 0" would hide 0.4%
    what = "stickered signs" if name.startswith("signs") else "digits with the trigger"
    line = (
        f"**{name}**: STRIP mixes each input with clean pictures. It catches {caught} of 100 {what} and wrongly "
        f"flags about {wrong} of 100 clean ones"
    )
    if summary["far"] > STRIP_WEAK_FAR:
        return line + f": {_why_strip_fails(name, summary)}, so **it cannot tell**."
    return line + "."


def spectral_plain(summary: dict, repaired: dict | None) -> str:
    """What spectral signatures looked at and found, and what the repaired model shows."""
    line = (
        f"It looked at every training image through the backdoored model's eyes and removed the most unusual ones: "
        f"**{summary['poisoned_removed']} of the {summary['n_poisoned']} poisoned images**, with "
        f"{summary['clean_removed']:,} clean ones."
    )
    if repaired:
        asr = repaired["metrics"]["attack_success_rate"]
        effect = "ignores the trigger" if asr < 0.01 else "still obeys the trigger on some digits"
        line += f" Trained again without them, the repaired model {effect} ({percent(asr)} of digits flip)."
    return line


def strip_blends(model: torch.nn.Module, overlays: torch.Tensor, inputs: dict[str, torch.Tensor], classes: list[str],
                 shown: int = 4, scale: int = 4) -> list[tuple[np.ndarray, str]]:
    """The blends STRIP makes: each input (1, C, H, W) plus each of the first `shown` overlays, saturated at 1 as
    `superimpose` adds them, enlarged, captioned with the input's name and the model's answer on that blend."""
    tiles = []
    for label, x in inputs.items():
        blends = superimpose(x, overlays[:shown])[0]  # (shown, C, H, W)
        with torch.no_grad():
            answers = model(blends).argmax(1).tolist()
        for blend, answer in zip(blends, answers, strict=True):
            picture = to_uint8(blend).permute(1, 2, 0).numpy()
            picture = np.repeat(picture, 3, axis=2) if picture.shape[2] == 1 else picture
            tiles.append((np.kron(picture, np.ones((scale, scale, 1), np.uint8)), f"{label}: reads {classes[answer]}"))
    return tiles


def strip_examples(defenses: DefenseResults, models_dir: Path) -> dict[str, list[tuple[np.ndarray, str]]]:
    """The blends the STRIP text shows, per backdoored model with a detector: a real test example (the 7; a stop
    sign) as it is and with its trigger, each blended with four of the detector's clean images, and what the
    backdoored model answers on each blend. The app and the static build both show these."""
    shown = {}
    for name, task in (("mnist-backdoor", MNIST), ("signs-backdoor", SIGNS)):
        detector = defenses.detectors.get(name)
        if detector is None:
            continue
        model = load_checkpoint(weights_path(name, models_dir))[0].eval()
        if task is MNIST:
            path = next(p for p in examples("digits") if digit_caption(p) == "7")
            clean = digit_from_drawing(np.asarray(load_image(path)))
            inputs = {"a clean 7": clean, "the 7 with the trigger": apply_trigger(clean, task.trigger)}
        else:
            path = next(p for p in examples("signs") if sign_caption(p) == "Stop")
            clean, *_ = sign_input(load_image(path), task, False, None, None, None)
            stickered, *_ = sign_input(load_image(path), task, True, None, None, None)
            inputs = {"a clean stop sign": clean, "the stop sign with the sticker": stickered}
        shown[name] = strip_blends(model, detector.overlays, inputs, list(task.classes))
    return shown
