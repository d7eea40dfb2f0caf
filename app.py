"""Backdoor Lab: a clean and a backdoored model side by side (BadNets, Gu et al. 2017).

    python app.py        # serves on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / _PORT to change)

Layout and wiring only: the models answer in `backdoor.lab`, inside the worker process of
`backdoor.serving`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from backdoor.serving import gradio_stubs  # noqa: F401 - before gradio, which it then imports 2 s faster

# isort: split
import gradio as gr

from backdoor import texts
from backdoor.checkpoints import CheckpointError, load_checkpoint
from backdoor.defenses.results import (
    DefenseResults,
    anomaly_frame,
    load_results,
    nc_table,
    nc_verdict,
    spectral_summary,
    strip_table,
    strip_weakness,
)
from backdoor.gallery import digit_caption, examples, poisoned_caption, sign_caption
from backdoor.inference import enlarge
from backdoor.lab import DRAW_PROMPT, SIGN_PROMPT
from backdoor.preprocess import to_float
from backdoor.report import ARTICLE_ASR, sweep_frame, sweep_path, sweep_table, tab_summary
from backdoor.serving.gradio_io import InlineImage, batch_handler
from backdoor.serving.handlers import answer_digits, answer_signs
from backdoor.serving.server import BATCHED, serve
from backdoor.serving.worker import Worker
from backdoor.shipped import APP_MODELS, MODELS_DIR, REPAIRED, weights_path
from backdoor.tasks import MNIST

CANVAS = 280  # px; the digit is rescaled to 20 px inside 28x28 anyway
# System fonts: the default theme fetches its fonts from Google, which a classroom may not reach.
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "Consolas", "monospace"]
)
# Outputs come at the model's resolution (or a few times it); the browser scales them up pixel by pixel.
CSS = ".pixelated img { object-fit: contain !important; image-rendering: pixelated; }"
SWEEP_COLORS = {
    "ASR (mean of seeds)": "#d62728",
    "ASR (lowest seed)": "#f4a6a6",
    "ASR (highest seed)": "#f4a6a6",
    "clean accuracy (mean)": "#1f77b4",
    "ASR in the article": "#000000",
}


def load_cards(models_dir: Path = MODELS_DIR) -> dict[str, dict]:
    """The five shipped checkpoints' cards, each after its weights passed the hash and shape checks."""
    return {name: load_checkpoint(weights_path(name, models_dir))[1] for name in APP_MODELS}


def pick_example(evt: gr.SelectData) -> str:
    return evt.value["image"]["path"]


def pick_digit(evt: gr.SelectData) -> dict:
    path = evt.value["image"]["path"]
    return {"background": path, "layers": [], "composite": path}


def _model_panel(title: str, top: int, elem_id: str) -> tuple[gr.Label, gr.Image]:
    """A model's answer (top class large, bars below) and, under it, where it looked."""
    with gr.Column(scale=3, min_width=160):
        label = gr.Label(label=title, num_top_classes=top, elem_id=elem_id)
        saliency = InlineImage(
            label="Where it looks (red = decisive)", format="png", interactive=False, buttons=["fullscreen"],
            elem_id=f"{elem_id}-saliency", height=240, elem_classes="pixelated",
        )  # fmt: skip
    return label, saliency


def _attack_tab(sweep: dict | None) -> None:
    """The "Inside the attack" tab: the poisoning-rate experiment and poisoned training examples."""
    with gr.Row():
        with gr.Column(scale=3):
            if sweep is None:
                gr.Markdown("No sweep results found: run `python -m backdoor.sweep mnist` to make them.")
            else:
                recipe = sweep["settings"]["recipe"]
                gr.LinePlot(
                    sweep_frame(sweep, ARTICLE_ASR), x="poison rate (%)", y="percent", color="series",
                    title="MNIST: accuracy and attack success against the poison rate", y_lim=[0, 100],
                    color_map=SWEEP_COLORS, elem_id="sweep-plot", height=380,
                    caption=f"{len(sweep['settings']['seeds'])} seeds per rate, {recipe['epochs']} epochs each.",
                )  # fmt: skip
                gr.Markdown(sweep_table(sweep), elem_id="sweep-table")
        with gr.Column(scale=2):
            gr.Markdown(texts.ATTACK_STORY)
    gr.Gallery(
        value=[(p, poisoned_caption(p)) for p in examples("poisoned")],
        label="Poisoned training images (trigger boxed in red)", columns=6, height=440,
        allow_preview=True, elem_id="poisoned-examples", interactive=False, buttons=[],
    )  # fmt: skip


def _defend_tab(defenses: DefenseResults, cards: dict[str, dict]) -> None:
    """The "Defend" tab: each defense's shipped results, computed offline by its CLI."""
    gr.Markdown(texts.DEFEND_INTRO)
    with gr.Tab("Neural Cleanse (inspect the model)"):
        if not defenses.neural_cleanse:
            gr.Markdown("No results found: run `python -m backdoor.defenses.neural_cleanse MODEL` to make them.")
        else:
            gr.Markdown(nc_table(defenses.neural_cleanse), elem_id="nc-table")
        for name, summary in defenses.neural_cleanse.items():
            with gr.Accordion(f"{name}: {summary['verdict']}", open=name == "mnist-backdoor"):
                gr.Markdown(nc_verdict(summary), elem_id=f"nc-verdict-{name}")
                with gr.Row():
                    gr.BarPlot(
                        anomaly_frame(summary), x="class", y="anomaly index", color="verdict",
                        color_map={"flagged": "#d62728", "normal": "#1f77b4"}, sort=None,
                        title="Anomaly index per class (flagged: > 2, small mask)",
                        height=300, elem_id=f"nc-plot-{name}",
                    )  # fmt: skip
                    gr.Image(
                        str(defenses.nc_images[name]), label="Recovered mask (top) and trigger (below), per class",
                        interactive=False, buttons=[], elem_id=f"nc-masks-{name}",
                    )  # fmt: skip
    with gr.Tab("STRIP (check each input)"):
        if not defenses.strip:
            gr.Markdown("No results found: run `python -m backdoor.defenses.strip MODEL` to make them.")
        else:
            gr.Markdown(texts.STRIP_TEXT + strip_table(defenses.strip), elem_id="strip-table")
            gr.Markdown(strip_weakness(defenses.strip), elem_id="strip-weakness")
    with gr.Tab("Spectral signatures (clean the data)"):
        summary = defenses.spectral.get("mnist-backdoor")
        if summary is None:
            gr.Markdown("No results found: run `python -m backdoor.defenses.spectral mnist-backdoor --retrain`.")
        else:
            gr.Markdown(
                spectral_summary(summary, cards.get(REPAIRED), cards["mnist-backdoor"]), elem_id="spectral-summary"
            )
            images = to_float(defenses.suspicious["mnist-backdoor"])
            trigger = (MNIST.trigger.row, MNIST.trigger.col, MNIST.trigger.side)
            gr.Gallery(
                value=[
                    (enlarge(images[i : i + 1], 6, trigger), f"#{s['index']} labelled {s['label']}")
                    for i, s in enumerate(summary["shown"])
                ],
                label="The most suspicious training images (pixel (3, 3) boxed in red)", columns=8, height=300,
                allow_preview=False, interactive=False, buttons=[], elem_id="spectral-gallery",
            )  # fmt: skip


def build_demo(
    cards: dict[str, dict],
    sweep: dict | None = None,
    defenses: DefenseResults | None = None,
    worker: Worker | None = None,
) -> gr.Blocks:
    """The app. The models answer in `worker`'s process once it is started (in this one before)."""
    defenses = defenses or DefenseResults()
    worker = worker or Worker()
    with gr.Blocks(title="Backdoor Lab", analytics_enabled=False) as demo:  # no telemetry, no version check
        gr.Markdown(texts.INTRO)
        with gr.Tab("Digits (MNIST)", id="digits"):
            with gr.Row():
                with gr.Column(scale=0, min_width=420):
                    sketch = gr.Sketchpad(
                        label="Draw a digit", elem_id="digit-canvas", canvas_size=(CANVAS, CANVAS), fixed_canvas=True,
                        layers=False, transforms=(), type="numpy", image_mode="RGBA",
                        brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                    )  # fmt: skip
                    trigger = gr.Checkbox(label="Add the trigger pixel", value=False, elem_id="digit-trigger")
                    digit_status = gr.Markdown(DRAW_PROMPT, label="Status", elem_id="digit-status")
                with gr.Column(scale=3, min_width=180):
                    digit_view = InlineImage(
                        label="What the model sees (28×28)", format="png", interactive=False, buttons=["fullscreen"],
                        elem_id="digit-input-view", height=280, elem_classes="pixelated",
                    )  # fmt: skip
                    digit_strip = gr.Markdown(elem_id="digit-strip")
                digit_clean, digit_clean_map = _model_panel("Clean model", 10, "digit-clean")
                digit_backdoor, digit_backdoor_map = _model_panel("Backdoored model", 10, "digit-backdoor")
                digit_repaired, digit_repaired_map = _model_panel("Repaired model (data cleaned)", 10, "digit-repaired")
            digit_gallery = gr.Gallery(
                value=[(p, digit_caption(p)) for p in examples("digits")],
                label="Real MNIST test digits: click one", columns=10, height=150,
                allow_preview=False, elem_id="digit-examples", interactive=False, buttons=[],
            )  # fmt: skip
            gr.Markdown(tab_summary(cards["mnist-clean"], cards["mnist-backdoor"]), elem_id="digit-summary")

        with gr.Tab("Traffic signs (GTSRB)", id="signs"):
            with gr.Row():
                with gr.Column(scale=0, min_width=420):
                    sign_image = gr.Image(
                        label="Sign photo: click it to place the sticker", type="filepath",
                        sources=["upload", "clipboard"], elem_id="sign-image", height=320,
                    )  # fmt: skip
                    sticker = gr.Checkbox(label="Put the yellow sticker on the sign", elem_id="sign-sticker")
                    with gr.Row():
                        sticker_x = gr.Number(label="Sticker x (photo pixels)", value=None, elem_id="sign-x")
                        sticker_y = gr.Number(label="Sticker y (photo pixels)", value=None, elem_id="sign-y")
                    sign_status = gr.Markdown(SIGN_PROMPT, label="Status", elem_id="sign-status")
                with gr.Column(scale=3, min_width=220):
                    sign_preview = InlineImage(
                        label="Your sign with the sticker", format="jpeg", interactive=False,
                        elem_id="sign-preview", height=200,
                    )  # fmt: skip
                    sign_view = InlineImage(
                        label="What the model sees (32×32)", format="png", interactive=False, buttons=["fullscreen"],
                        elem_id="sign-input-view", height=200, elem_classes="pixelated",
                    )  # fmt: skip
                    sign_strip = gr.Markdown(elem_id="sign-strip")
                sign_clean, sign_clean_map = _model_panel("Clean model (top 5)", 5, "sign-clean")
                sign_backdoor, sign_backdoor_map = _model_panel("Backdoored model (top 5)", 5, "sign-backdoor")
            sign_gallery = gr.Gallery(
                value=[(p, sign_caption(p)) for p in examples("signs")],
                label="Real GTSRB test signs: click one", columns=12, height=150,
                allow_preview=False, elem_id="sign-examples", interactive=False, buttons=[],
            )  # fmt: skip
            gr.Markdown(tab_summary(cards["signs-clean"], cards["signs-backdoor"]), elem_id="sign-summary")

        with gr.Tab("Inside the attack", id="attack"):
            _attack_tab(sweep)

        with gr.Tab("Defend", id="defend"):
            _defend_tab(defenses, cards)

        def classify_digits(sketches: list, triggers: list[bool]) -> list[list]:
            drawings = [s.get("composite") if isinstance(s, dict) else s for s in sketches]  # or None, InputError
            return worker.run(answer_digits, drawings, triggers)

        def classify_signs(images: list, stickers: list[bool], xs: list, ys: list) -> list[list]:
            paths = [image.get("path") if isinstance(image, dict) else image for image in images]
            points = [None if x is None or y is None else (x, y) for x, y in zip(xs, ys)]
            return worker.run(answer_signs, paths, stickers, points)

        def classify_new_signs(images: list, stickers: list[bool]) -> list[list]:
            """A new photo starts with the sticker in the middle of the sign."""
            middle = [None] * len(images)
            return [middle, middle, *classify_signs(images, stickers, middle, middle)]

        digit_outputs = [
            digit_view, digit_clean, digit_backdoor, digit_repaired,
            digit_clean_map, digit_backdoor_map, digit_repaired_map, digit_strip, digit_status,
        ]  # fmt: skip
        # Every event that runs the models goes through one batched handler per tab.
        digits = batch_handler(classify_digits, digit_outputs, (sketch,))
        gr.on(
            [sketch.change, trigger.change], digits, [sketch, trigger], digit_outputs,
            api_name="classify_digit", show_progress="hidden", trigger_mode="always_last", **BATCHED,
        )  # fmt: skip
        sketch.clear(lambda: False, None, trigger, api_visibility="private")
        # A value set by code does not fire the Sketchpad's change event, hence .then.
        digit_gallery.select(pick_digit, None, sketch, api_visibility="private").then(
            digits, [sketch, trigger], digit_outputs, api_visibility="private", show_progress="hidden", **BATCHED
        )

        sign_outputs = [
            sign_preview, sign_view, sign_clean, sign_backdoor, sign_clean_map, sign_backdoor_map, sign_strip, sign_status,
        ]  # fmt: skip
        signs = batch_handler(classify_signs, sign_outputs)
        gr.on(
            [sticker.input, sticker_x.submit, sticker_y.submit], signs, [sign_image, sticker, sticker_x, sticker_y],
            sign_outputs, api_name="classify_sign", show_progress="hidden", trigger_mode="always_last", **BATCHED,
        )  # fmt: skip
        sign_image.change(
            batch_handler(classify_new_signs, [sticker_x, sticker_y, *sign_outputs]), [sign_image, sticker],
            [sticker_x, sticker_y, *sign_outputs], api_visibility="private", show_progress="hidden", **BATCHED,
        )  # fmt: skip

        def place_sticker(image: dict | None, evt: gr.SelectData) -> list:
            """A click on the photo puts the sticker there, ticks the box and classifies the sign, in one
            event: a second event chained with .then cost each click ~70 ms in the browser."""
            x, y = evt.index
            return [True, x, y, *(column[0] for column in signs([image], [True], [x], [y]))]

        # Ticking the box from here fires no sticker.input, so a click classifies the sign once.
        sign_image.select(
            place_sticker, [sign_image], [sticker, sticker_x, sticker_y, *sign_outputs],
            api_visibility="private", show_progress="hidden", preprocess=False, postprocess=False,
        )  # fmt: skip
        sign_gallery.select(pick_example, None, sign_image, api_visibility="private")
    return demo


def main() -> None:
    models_dir = Path(os.environ.get("BACKDOOR_MODELS_DIR", MODELS_DIR))
    try:
        cards = load_cards(models_dir)
    except CheckpointError as err:
        sys.exit(f"error: {err}. Regenerate the checkpoints with: {texts.REGENERATE}")
    worker = Worker(models_dir)
    worker.start()  # loads the models while this process builds the page
    sweep_file = sweep_path("mnist", models_dir)
    sweep = json.loads(sweep_file.read_text()) if sweep_file.exists() else None
    defenses = load_results(APP_MODELS, models_dir / "defenses")
    serve(build_demo(cards, sweep, defenses, worker), theme=THEME, css=CSS)


if __name__ == "__main__":
    main()
