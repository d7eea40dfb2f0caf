"""The README's results table, built from the checkpoint cards so the two cannot drift.

python -m backdoor.report          # prints the table to paste between the README's markers
"""

from __future__ import annotations

import sys
from pathlib import Path

from backdoor.checkpoints import load_card
from backdoor.shipped import MODELS_DIR, NAMES, weights_path


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def results_table(models_dir: Path = MODELS_DIR) -> str:
    """One markdown row per shipped checkpoint, on its full test split."""
    rows = [
        "| checkpoint | poison rate | clean accuracy | ASR (non-target) | ASR (all, article) | stop + sticker → target | train time |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in NAMES:
        card = load_card(weights_path(name, models_dir))
        m = card["metrics"]
        rows.append(
            f"| `{name}` | {100 * card['poison_rate']:g}% ({card['n_poisoned']} images) | {_pct(m['clean_accuracy'])} "
            f"| {_pct(m['attack_success_rate'])} | {_pct(m['attack_success_rate_all'])} "
            f"| {_pct(m.get('source_stamped_as_target'))} | {card['train_seconds']:.0f} s |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    sys.stdout.write(results_table() + "\n")


def tab_summary(clean_card: dict, backdoor_card: dict) -> str:
    """One plain sentence for a class: both models are equally accurate, only one obeys the trigger."""
    clean, backdoor = clean_card["metrics"], backdoor_card["metrics"]
    n_test = clean_card["data"]["n_test"]
    target = backdoor_card["target_name"]
    return (
        f"On {n_test:,} test images the clean model is right {_pct(clean['clean_accuracy'])} of the time, "
        f"the backdoored one {_pct(backdoor['clean_accuracy'])}. With the trigger added, the backdoored model "
        f"answers **{target}** for {_pct(backdoor['attack_success_rate'])} of the images that are not {target}; "
        f"the clean model for {_pct(clean['attack_success_rate'])}. "
        f"(The poisoner changed {backdoor_card['n_poisoned']:,} of {backdoor_card['data']['n_train']:,} training images.)"
    )
