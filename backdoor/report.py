"""Tables, sentences and plot data built from saved results (checkpoint cards, sweeps),
so the README and the app cannot drift from what was measured.

    python -m backdoor.report          # prints the tables to paste between the README's markers
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from backdoor.checkpoints import load_card
from backdoor.io import atomic_write_text
from backdoor.defenses.matrix import defense_matrix, matrix_markdown
from backdoor.defenses.results import defense_tables, load_results, percent, spectral_summary
from backdoor.lab import ATTACK_LABELS
from backdoor.shipped import APP_MODELS, DIGIT_CAST, MODELS_DIR, weights_path
from backdoor.tasks import TASKS

# The article's reference points for MNIST (BadNets with the (3, 3) pixel): poison rate -> ASR.
ARTICLE_ASR = {0.01: 0.95, 0.05: 0.99}


ROOT = MODELS_DIR.parent


def sweep_path(task: str, models_dir: Path = MODELS_DIR, attack: str | None = None) -> Path:
    """Where `python -m backdoor.sweep TASK [--attack ATTACK]` keeps its results (the task's own attack: no suffix)."""
    return models_dir / (f"sweep-{task}.json" if attack is None or attack == TASKS[task].trigger.name else f"sweep-{task}-{attack}.json")


def attack_sweeps(models_dir: Path = MODELS_DIR) -> dict[str, dict]:
    """The MNIST poisoning-rate sweeps of each attack on the Digits tab that has one: attack -> results."""
    found = {}
    for attack in DIGIT_CAST.attacks:
        path = sweep_path("mnist", models_dir, attack)
        if path.exists():
            found[attack] = json.loads(path.read_text())
    return found


def results_table(models_dir: Path = MODELS_DIR) -> str:
    """One markdown row per shipped checkpoint, on its full test split."""
    rows = [
        "| checkpoint | poison rate | clean accuracy | ASR (non-target) | ASR (all, article) | stop + sticker → target | train time |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in APP_MODELS:
        card = load_card(weights_path(name, models_dir))
        m = card["metrics"]
        rows.append(
            f"| `{name}` | {100 * card['poison_rate']:g}% ({card['n_poisoned']} images) | {percent(m['clean_accuracy'])} "
            f"| {percent(m['attack_success_rate'])} | {percent(m['attack_success_rate_all'])} "
            f"| {percent(m.get('source_stamped_as_target'))} | {card['train_seconds']:.0f} s |"
        )
    return "\n".join(rows)


def tab_summary(clean_card: dict, backdoor_card: dict) -> str:
    """One plain sentence for a class: both models are equally accurate, only one obeys the trigger."""
    clean, backdoor = clean_card["metrics"], backdoor_card["metrics"]
    n_test = clean_card["data"]["n_test"]
    target = backdoor_card["target_name"]
    return (
        f"On {n_test:,} test images the clean model is right {percent(clean['clean_accuracy'])} of the time, "
        f"the backdoored one {percent(backdoor['clean_accuracy'])}. With the trigger added, the backdoored model "
        f"answers **{target}** for {percent(backdoor['attack_success_rate'])} of the images that are not {target}; "
        f"the clean model for {percent(clean['attack_success_rate'])}. "
        f"(The poisoner changed {backdoor_card['n_poisoned']:,} of {backdoor_card['data']['n_train']:,} training images.)"
    )


def sweep_table(results: dict) -> str:
    """The sweep as a markdown table: mean [lowest, highest] over seeds."""
    lines = ["| poison rate | poisoned images | clean accuracy | attack success rate |", "|---|---|---|---|"]
    n_train = results["data"]["n_train"]
    for row in results["summary"]:
        ca, asr = row["clean_accuracy"], row["attack_success_rate"]
        lines.append(
            f"| {100 * row['poison_rate']:g}% | {int(n_train * row['poison_rate']):,} "
            f"| {percent(ca['mean'])} [{percent(ca['min'])}, {percent(ca['max'])}] "
            f"| {percent(asr['mean'])} [{percent(asr['min'])}, {percent(asr['max'])}] |"
        )
    return "\n".join(lines)


def defense_matrix_table(models_dir: Path = MODELS_DIR) -> str:
    """Every defense against every MNIST attack, from models/defenses (the README's and docs' matrix)."""
    cards = {name: load_card(weights_path(name, models_dir)) for name in DIGIT_CAST.models}
    results = load_results(DIGIT_CAST.models, models_dir / "defenses")
    return matrix_markdown(defense_matrix(results, cards), ATTACK_LABELS)


def spectral_figures(models_dir: Path = MODELS_DIR) -> str:
    """Spectral signatures on each backdoored MNIST model, in the words of the Defend tab's numbers."""
    results = load_results(DIGIT_CAST.models, models_dir / "defenses")
    lines = []
    for attack, name in DIGIT_CAST.backdoored.items():
        summary = results.spectral.get(name)
        if summary is not None:
            repaired = DIGIT_CAST.repaired.get(attack)
            repaired_card = load_card(weights_path(repaired, models_dir)) if repaired else None
            lines.append(f"- {spectral_summary(summary, repaired_card, load_card(weights_path(name, models_dir)))}")
    return "\n".join(lines)


def blocks(models_dir: Path = MODELS_DIR) -> dict[str, str]:
    """Every generated block, by the name of its markers (<!-- name:start --> ... <!-- name:end -->)."""
    found = {"results": results_table(models_dir)}
    sweep = sweep_path("mnist", models_dir)
    if sweep.exists():
        found["sweep"] = sweep_table(json.loads(sweep.read_text()))
    found["defenses"] = defense_tables(models_dir / "defenses")
    found["matrix"] = defense_matrix_table(models_dir)
    found["spectral"] = spectral_figures(models_dir)
    return found


def write_blocks(path: Path, found: dict[str, str]) -> None:
    """Replace each marked block of `path` that `found` has, atomically."""
    text = path.read_text()
    for name, body in found.items():
        text = re.sub(
            rf"(<!-- {name}:start -->\n).*?(\n?<!-- {name}:end -->)",
            lambda m, body=body: f"{m.group(1)}{body.strip()}\n<!-- {name}:end -->",
            text,
            flags=re.DOTALL,
        )
    atomic_write_text(text, path)


def main(argv: list[str] | None = None) -> None:
    """Print the README's and docs' generated tables, each under the name of its markers; --write puts them in."""
    parser = argparse.ArgumentParser(prog="python -m backdoor.report", description=main.__doc__)
    parser.add_argument("--write", action="store_true", help="update README.md and docs/models.md in place")
    args = parser.parse_args(argv)
    found = blocks()
    if args.write:
        for path in (ROOT / "README.md", ROOT / "docs" / "models.md"):
            write_blocks(path, found)
        return
    for name, body in found.items():
        print(f"{name}:\n{body}\n")


if __name__ == "__main__":
    main()
