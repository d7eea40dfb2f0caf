"""Tables, sentences and plot data built from saved results (checkpoint cards, sweeps),
so the README and the app cannot drift from what was measured.

    python -m backdoor.report          # prints the tables to paste between the README's markers
"""

from __future__ import annotations

import json
from pathlib import Path

from backdoor.checkpoints import load_card
from backdoor.defenses.results import defense_tables, percent
from backdoor.shipped import APP_MODELS, MODELS_DIR, weights_path

# The article's reference points for MNIST (BadNets with the (3, 3) pixel): poison rate -> ASR.
ARTICLE_ASR = {0.01: 0.95, 0.05: 0.99}


def sweep_path(task: str, models_dir: Path = MODELS_DIR) -> Path:
    """Where `python -m backdoor.sweep TASK` keeps its results."""
    return models_dir / f"sweep-{task}.json"


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


def main() -> None:
    """Print the README's generated tables, each under the name of its markers."""
    print("results:\n" + results_table())
    sweep = sweep_path("mnist")
    if sweep.exists():
        print("\nsweep:\n" + sweep_table(json.loads(sweep.read_text())))
    print("\ndefenses:\n" + defense_tables())


if __name__ == "__main__":
    main()
