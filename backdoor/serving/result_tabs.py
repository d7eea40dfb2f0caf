"""The two tabs that show shipped results, computed offline: Inside the attack (the poisoning-rate
experiment, poisoned training images) and Defend (each defense's verdicts). No event runs the models here."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from backdoor import texts
from backdoor.charts import anomaly_svg, attacks_svg, sweep_svg
from backdoor.defenses.results import (
    DefenseResults,
    nc_table,
    nc_tiles,
    nc_title,
    nc_plain,
    nc_verdict,
    spectral_plain,
    spectral_summary,
    strip_examples,
    strip_plain,
    strip_table,
    strip_weakness,
)
from backdoor.defenses.matrix import defense_matrix, matrix_html
from backdoor.gallery import EXAMPLES_DIR, examples, invisible_caption, poisoned_caption, quiz_answers
from backdoor.lab import ATTACK_LABELS
from backdoor.inference import enlarge
from backdoor.preprocess import to_float
from backdoor.report import ARTICLE_ASR, attack_sweeps, sweep_table
from backdoor.shipped import MODELS_DIR, REPAIRED
from backdoor.tasks import MNIST


def attack_tab(sweep: dict | None, models_dir: Path = MODELS_DIR) -> None:
    """The "Inside the attack" tab: the poisoning-rate experiment and poisoned training examples."""
    with gr.Row():
        with gr.Column(scale=3):
            if sweep is None:
                gr.Markdown("No sweep results found: run `python -m backdoor.sweep mnist` to make them.")
            else:
                gr.HTML(sweep_svg(sweep, ARTICLE_ASR), elem_id="sweep-plot")
                recipe = sweep["settings"]["recipe"]
                gr.Markdown(
                    f"{len(sweep['settings']['seeds'])} models per rate, each trained from scratch for "
                    f"{recipe['epochs']} epochs; the table gives mean [lowest, highest] of the seeds.",
                    elem_classes="lesson",
                )
                gr.Markdown(sweep_table(sweep), elem_id="sweep-table")
                sweeps = attack_sweeps(models_dir)
                if len(sweeps) > 1:
                    gr.HTML(attacks_svg(sweeps, ATTACK_LABELS), elem_id="sweep-attacks-plot")
                    gr.Markdown(texts.ATTACKS_CHART, elem_classes="lesson")
        with gr.Column(scale=2):
            gr.Markdown(texts.ATTACK_STORY)
    _examples("poisoned", poisoned_caption, "Poisoned training images (trigger boxed in red)", 6)
    gr.Markdown(texts.INVISIBLE_STORY)
    _examples("invisible", invisible_caption, "Hidden triggers: each training image before and after poisoning", 8)
    answers = quiz_answers()
    if answers:
        gr.Markdown(texts.QUIZ)
        pictures = [str(EXAMPLES_DIR / "quiz" / name) for name in answers]
        quiz = gr.Gallery(
            value=[(p, f"#{i + 1}") for i, p in enumerate(pictures)], label="Which of these were poisoned?",
            columns=8, height="auto", allow_preview=False, elem_id="poison-quiz", elem_classes="examples",
            interactive=False, buttons=[],
        )  # fmt: skip
        reveal = gr.Button("Reveal", elem_id="poison-quiz-reveal", scale=0)
        reveal.click(
            lambda: [(p, f"#{i + 1}: {a}") for i, (p, a) in enumerate(zip(pictures, answers.values()))],
            None, quiz, api_visibility="private", show_progress="hidden",
        )  # fmt: skip


def _examples(kind: str, caption, label: str, columns: int) -> None:
    """One gallery of shipped example pictures (`backdoor.gallery`), enlarged on a click."""
    gr.Gallery(
        value=[(p, caption(p)) for p in examples(kind)], label=label, columns=columns, height="auto",
        allow_preview=True, elem_id=f"{kind}-examples", elem_classes="examples", interactive=False, buttons=[],
    )  # fmt: skip


def defend_tab(defenses: DefenseResults, cards: dict[str, dict], models_dir: Path = MODELS_DIR) -> None:
    """The "Defend" tab: each defense's shipped results, computed offline by its CLI. One long page, as the static
    edition's: per defense a heading, one plain line per result, the numbers one click away."""
    gr.Markdown(texts.DEFEND_INTRO)
    gr.Markdown(texts.MATRIX_INTRO)
    gr.HTML(matrix_html(defense_matrix(defenses, cards), ATTACK_LABELS), elem_id="defense-matrix-panel")
    gr.Markdown("### Neural Cleanse (inspect the model)")
    if not defenses.neural_cleanse:
        gr.Markdown("No results found: run `python -m backdoor.defenses.neural_cleanse MODEL` to make them.")
    else:
        with gr.Accordion(texts.NUMBERS, open=False):
            gr.Markdown(nc_table(defenses.neural_cleanse), elem_id="nc-table")
    for name, summary in defenses.neural_cleanse.items():
        trained_clean = cards[name]["poison_rate"] == 0
        with gr.Accordion(nc_title(summary, trained_clean), open=name == "mnist-backdoor"):
            gr.Markdown(nc_plain(summary, trained_clean), elem_id=f"nc-plain-{name}", elem_classes="plain")
            gr.Markdown(nc_verdict(summary, trained_clean), elem_id=f"nc-verdict-{name}", elem_classes="lesson")
            gr.HTML(anomaly_svg(summary), elem_id=f"nc-plot-{name}")
            gr.Markdown(texts.NC_CHART, elem_classes="lesson")
            gr.Gallery(
                value=nc_tiles(summary, defenses.nc_triggers[name]), columns=6 if len(summary["classes"]) > 10 else 5,
                label="The smallest trigger found for each class: its mask (white = kept) and what it paints",
                height="auto", allow_preview=False, interactive=False, buttons=[], elem_id=f"nc-masks-{name}",
                elem_classes="examples",
            )  # fmt: skip
    gr.Markdown("### STRIP (check each input)")
    if not defenses.strip:
        gr.Markdown("No results found: run `python -m backdoor.defenses.strip MODEL` to make them.")
    else:
        plain = "\n\n".join(strip_plain(name, s) for name, s in defenses.strip.items())
        gr.Markdown(plain, elem_id="strip-plain", elem_classes="plain")
        gr.Markdown(texts.STRIP_TEXT, elem_classes="lesson")
        for name, tiles in strip_examples(defenses, models_dir).items():
            gr.Gallery(
                value=tiles, columns=len(tiles) // 2, height="auto", allow_preview=False, interactive=False,
                buttons=[], elem_id=f"strip-blends-{name}", elem_classes="examples",
                label=f"STRIP's blends on {name}: four clean images added to each input, and the answer on each",
            )  # fmt: skip
        with gr.Accordion(texts.NUMBERS, open=False):
            gr.Markdown(texts.STRIP_MEASURED + strip_table(defenses.strip), elem_id="strip-table")
            gr.Markdown(strip_weakness(defenses.strip), elem_id="strip-weakness")
    gr.Markdown("### Spectral signatures (clean the data)")
    summary = defenses.spectral.get("mnist-backdoor")
    if summary is None:
        gr.Markdown("No results found: run `python -m backdoor.defenses.spectral mnist-backdoor --retrain`.")
        return
    gr.Markdown(spectral_plain(summary, cards.get(REPAIRED)), elem_id="spectral-plain", elem_classes="plain")
    with gr.Accordion(texts.NUMBERS, open=False):
        gr.Markdown(spectral_summary(summary, cards.get(REPAIRED), cards["mnist-backdoor"]), elem_id="spectral-summary")
    images = to_float(defenses.suspicious["mnist-backdoor"])
    trigger = (MNIST.trigger.row, MNIST.trigger.col, MNIST.trigger.side)
    gr.Gallery(
        value=[
            (enlarge(images[i : i + 1], 6, trigger), f"#{s['index']} labelled {s['label']}")
            for i, s in enumerate(summary["shown"])
        ],
        label="The most suspicious training images (pixel (3, 3) boxed in red)", columns=8, height="auto",
        allow_preview=False, interactive=False, buttons=[], elem_id="spectral-gallery", elem_classes="examples",
    )  # fmt: skip
