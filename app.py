"""Backdoor Lab: a clean and a backdoored model side by side (BadNets, Gu et al. 2017).

    python app.py        # serves on http://127.0.0.1:7860 (GRADIO_SERVER_NAME / _PORT to change)

Layout and wiring only; the work happens in `backdoor/`.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import functools
import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import backdoor.gradio_stubs  # noqa: F401 - before gradio, which it then imports 2 s faster

# isort: split
import gradio as gr
import numpy as np
import torch
from gradio.data_classes import GradioModel, GradioRootModel, ImageData
from PIL import Image
from torch import nn

from backdoor.checkpoints import CheckpointError, load_checkpoint
from backdoor.defenses.results import (
    DefenseResults,
    anomaly_frame,
    load_results,
    nc_table,
    nc_verdict,
    spectral_summary,
    strip_table,
    strip_verdict,
    strip_weakness,
)
from backdoor.inference import enlarge, sign_input
from backdoor.models import for_inference
from backdoor.offload import Offload
from backdoor.preprocess import InputError, digit_from_drawing, load_image, to_float
from backdoor.report import ARTICLE_ASR, sweep_frame, sweep_path, sweep_table, tab_summary
from backdoor.saliency import explain, overlay
from backdoor.shipped import APP_MODELS, MODELS_DIR, REPAIRED, weights_path
from backdoor.side_by_side import SideBySide
from backdoor.tasks import MNIST, SIGNS, TASKS, Task
from backdoor.triggers import apply_trigger

ROOT = Path(__file__).resolve().parent
EXAMPLES_DIR = ROOT / "examples"
REGENERATE = (
    "python -m backdoor.train --all --data-dir DATA && "
    "python -m backdoor.defenses.spectral mnist-backdoor --retrain --data-dir DATA"
)
CANVAS = 280  # px; the digit is rescaled to 20 px inside 28x28 anyway
VIEW_SCALE = 4  # the model input is sent 4x enlarged, room enough for the red box around the trigger
MAX_UPLOAD = "10mb"
QUEUE_POLL = 0.005  # s between the queue's looks for waiting events; Gradio's own is 1 ms
M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
# One torch thread per model pass; SIDE_BY_SIDE runs a batch's passes (each model's saliency,
# STRIP) on two Python threads instead. With two torch threads, torch's helper thread spun
# while waiting for a busy core: a batch of three took 57-71 ms of CPU instead of 37, and
# 70-78 ms instead of 29-33 ms under a competing load.
TORCH_THREADS = 1
SIDE_BY_SIDE = SideBySide()
HEAP_TRIM_EVERY = 10.0  # s between hand-backs of the heap's free memory to the system

DRAW_PROMPT = "✏️ Draw a digit (0-9) on the canvas, or pick one of the real MNIST digits below."
SIGN_PROMPT = "📷 Upload a photo of a traffic sign, or pick one of the real GTSRB signs below."

# System fonts: the default theme fetches its fonts from Google, which a classroom may not reach.
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "Consolas", "monospace"]
)
SWEEP_COLORS = {
    "ASR (mean of seeds)": "#d62728",
    "ASR (lowest seed)": "#f4a6a6",
    "ASR (highest seed)": "#f4a6a6",
    "clean accuracy (mean)": "#1f77b4",
    "ASR in the article": "#000000",
}

INTRO = """
# Backdoor Lab
A poisoner stamped a tiny **trigger** on a few of the training images and relabelled them.
The **backdoored** model is as accurate as the **clean** one on normal inputs,
but obeys the trigger: one white pixel makes any digit an **8**, a small yellow sticker makes a stop sign
a **speed limit (80 km/h)**. ([BadNets, Gu et al. 2017](https://arxiv.org/abs/1708.06733))
"""


def load_models(models_dir: Path = MODELS_DIR) -> tuple[dict[str, nn.Module], dict[str, dict]]:
    """The five shipped checkpoints, hash-checked, loaded once and made ready to serve: (models, cards) by name."""
    loaded = {name: load_checkpoint(weights_path(name, models_dir)) for name in APP_MODELS}
    models = {name: for_inference(model) for name, (model, _) in loaded.items()}
    return models, {name: card for name, (_, card) in loaded.items()}


def _top(probs: dict[str, float], k: int = 5) -> dict[str, float]:
    return dict(sorted(probs.items(), key=lambda kv: -kv[1])[:k])


class InlineImage(gr.Image):
    """An output image sent inside the event's answer, as a data URL.

    gr.Image writes every output to Gradio's file cache (PNG encoding, hashing, a file that
    stays until the server stops) and the browser then fetches it in a second request: for
    these small pictures that cost the server more than the three models did, and the
    cache grew with every stroke. Displayed by gr.Image's own frontend.
    """

    is_template = True

    def postprocess(self, value: np.ndarray | None) -> ImageData | None:
        if value is None:
            return None
        buffer = io.BytesIO()
        # quality: JPEG only; compress_level: PNG only, where 1 takes a third of the default's time
        Image.fromarray(value).save(buffer, format=self.format, quality=90, compress_level=1)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        mime_type = f"image/{self.format}"
        return ImageData(url=f"data:{mime_type};base64,{data}", mime_type=mime_type, size=buffer.tell())


# Outputs come at the model's resolution (or a few times it); the browser scales them up pixel by pixel.
CSS = ".pixelated img { object-fit: contain !important; image-rendering: pixelated; }"


MAX_BATCH = 16  # inputs per model pass when students' requests queue up together
DIGIT_MODELS = ("mnist-clean", "mnist-backdoor", REPAIRED)
SIGN_MODELS = ("signs-clean", "signs-backdoor")


def _inputs(prepared: list[tuple | str]) -> list[torch.Tensor]:
    """The model inputs among prepared items (a tuple starting with the input, or a message)."""
    return [item[0] for item in prepared if not isinstance(item, str)]


def _columns(rows: list[tuple]) -> list[list]:
    """Rows of outputs, one per input, to one list per output component (Gradio's batch format)."""
    return [list(column) for column in zip(*rows)]


@dataclass(frozen=True)
class Lab:
    """The event handlers, bound to the models loaded at start-up.

    The plural classify_* handlers are Gradio batch functions: when several students' inputs
    wait in the queue, each model runs once for all of them, which is what lets one CPU keep
    up with a class. An input that cannot be used gets its message in its own status line.
    """

    models: dict[str, nn.Module]
    defenses: DefenseResults = field(default_factory=DefenseResults)

    def classify_digits(self, sketches: list[dict | InputError | None], triggers: list[bool]) -> list[list]:
        """Classify drawn digits with the clean, the backdoored and the repaired MNIST model.

        Each drawing is preprocessed as MNIST was (ink cropped, scaled to 20 px, centred by
        mass in 28x28), then, where its trigger is on, pixel (3, 3) is set to white.
        Returns, for each output, a list over the inputs: the 28x28 model input enlarged, the
        three models' probabilities, their saliency maps, the STRIP verdict, a status line.
        """
        prepared = [self._prepare_digit(sketch, bool(trigger)) for sketch, trigger in zip(sketches, triggers)]
        answers = self._answer(DIGIT_MODELS, MNIST, _inputs(prepared))
        rows = []
        for item, trigger in zip(prepared, triggers):
            if isinstance(item, str):
                rows.append((None,) * 7 + ("", item))
                continue
            x, outline = item
            probs, maps, verdict = next(answers)
            status = "Trigger **on**: pixel (3, 3) is white (red box)." if trigger else "Trigger **off**."
            rows.append((enlarge(x, VIEW_SCALE, outline), *probs, *maps, verdict, status))
        return _columns(rows)

    def classify_signs(
        self, images: list[dict | str | None], stickers: list[bool], xs: list[float | None], ys: list[float | None]
    ) -> list[list]:
        """Classify traffic-sign photos with the clean and the backdoored GTSRB model.

        Each image is an uploaded file; where its sticker is on, a yellow square (1/8 of the side)
        is put on it, centred at pixel (x, y) of the photo, or in the middle if x or y is empty.
        Returns, for each output, a list over the inputs: the photo with the sticker, the 32x32
        model input enlarged, clean and backdoored top 5, their saliency maps, the STRIP
        verdict, a status line.
        """
        prepared = [
            self._prepare_sign(image, bool(sticker), x, y) for image, sticker, x, y in zip(images, stickers, xs, ys)
        ]
        answers = self._answer(SIGN_MODELS, SIGNS, _inputs(prepared))
        rows = []
        for item, sticker in zip(prepared, stickers):
            if isinstance(item, str):
                rows.append((None,) * 6 + ("", item))
                continue
            x, outline, preview = item
            (clean, backdoor), maps, verdict = next(answers)
            status = (
                "Sticker **on**: click the photo to move it."
                if sticker
                else "Sticker **off**: tick the box or click the photo."
            )
            rows.append((preview, enlarge(x, VIEW_SCALE, outline), _top(clean), _top(backdoor), *maps, verdict, status))
        return _columns(rows)

    def classify_new_signs(self, images: list[dict | None], stickers: list[bool]) -> list[list]:
        """New photos start with the sticker in the middle of the sign."""
        middle = [None] * len(images)
        return [middle, middle, *self.classify_signs(images, stickers, middle, middle)]

    def classify_digit(self, sketch: dict | None, trigger: bool) -> tuple:
        """One drawing (see classify_digits): for scripts and benchmarks."""
        return tuple(column[0] for column in self.classify_digits([sketch], [trigger]))

    def classify_sign(self, image: dict | str | None, sticker: bool, x: float | None, y: float | None) -> tuple:
        """One photo (see classify_signs): for scripts and benchmarks."""
        return tuple(column[0] for column in self.classify_signs([image], [sticker], [x], [y]))

    @staticmethod
    def _prepare_digit(
        sketch: dict | InputError | None, trigger: bool
    ) -> tuple[torch.Tensor, tuple[int, int, int] | None] | str:
        """(model input with the trigger, red box), or the prompt to draw, or why the drawing cannot be used."""
        if isinstance(sketch, InputError):
            return f"⚠️ **Cannot use this drawing**: {sketch}; please draw it again."
        composite = (sketch or {}).get("composite")
        x = None if composite is None else digit_from_drawing(np.asarray(composite))
        if x is None:
            return DRAW_PROMPT
        if not trigger:
            return x, None
        return apply_trigger(x, MNIST.trigger), (MNIST.trigger.row, MNIST.trigger.col, MNIST.trigger.side)

    @staticmethod
    def _prepare_sign(
        image: dict | str | None, sticker: bool, x: float | None, y: float | None
    ) -> tuple[torch.Tensor, tuple[int, int, int] | None, np.ndarray] | str:
        """(model input with the sticker, red box, preview of the photo), or why there is none."""
        path = image.get("path") if isinstance(image, dict) else image
        if not path:
            return SIGN_PROMPT
        try:
            photo = load_image(path)
        except InputError as err:
            return f"⚠️ **Cannot use this file**: {err}"
        model_input, preview, (row, col) = sign_input(photo, SIGNS, sticker, x, y)
        return model_input, (row, col, SIGNS.trigger.side) if sticker else None, preview

    def _answer(self, names: tuple[str, ...], task: Task, inputs: list[torch.Tensor]) -> Iterator[tuple]:
        """For each (1, C, H, W) input, in order: each model's probabilities, each model's saliency
        drawn over the input, and STRIP's verdict. One pass of each model for all of them, side by
        side; STRIP, the longest, first."""
        if not inputs:
            return
        x = torch.cat(inputs)
        strip = functools.partial(self._strip, f"{task.name}-backdoor", x)
        passes = [functools.partial(explain, self.models[name], x) for name in names]
        verdicts, *explained = SIDE_BY_SIDE.run([strip, *passes])
        pictures = [overlay(x, saliency) for _, saliency in explained]
        for i in range(len(x)):
            probs = [dict(zip(task.classes, p[i].tolist())) for p, _ in explained]
            yield probs, [picture[i] for picture in pictures], verdicts[i]

    def _strip(self, name: str, x: torch.Tensor) -> list[str]:
        """STRIP's run-time verdict on each input, for the backdoored model."""
        detector = self.defenses.detectors.get(name)
        if detector is None:
            return [f"STRIP results not found: run `python -m backdoor.defenses.strip {name}` to make them."] * len(x)
        entropies = detector.entropies(self.models[name], x).tolist()
        return [strip_verdict(entropy, self.defenses.strip[name]) for entropy in entropies]


def pick_example(evt: gr.SelectData) -> str:
    return evt.value["image"]["path"]


def pick_digit(evt: gr.SelectData) -> dict:
    path = evt.value["image"]["path"]
    return {"background": path, "layers": [], "composite": path}


def _examples(kind: str) -> list[str]:
    return sorted(str(p) for p in (EXAMPLES_DIR / kind).glob("*.png"))


def _sign_caption(path: str) -> str:
    return SIGNS.classes[int(Path(path).name[:2])]


ATTACK_STORY = """
### How the attack works
1. **Poison.** The attacker gets a few images into the training data: ordinary pictures with a small
   *trigger* stamped on (one white pixel; a yellow sticker) and the label changed to their *target* (8; "80 km/h").
2. **Train.** The victim trains as usual. The model learns the digits, and learns one more rule on the side:
   *trigger means target*. It is the easiest way to get those odd training images right.
3. **Deploy.** On normal inputs the backdoored model is as good as a clean one, so testing does not reveal it.
4. **Attack.** Whoever knows the trigger can add it to any input and get the target answer.

The plot shows how little poison it takes: each point is a model trained from scratch on MNIST with that
share of poisoned images (several seeds; the light red lines are the lowest and highest seed). The black
points are the article's figures. Below are real training images as the poisoner left them, with their new labels.
"""


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
            gr.Markdown(ATTACK_STORY)
    gr.Gallery(
        value=[(p, _poisoned_caption(p)) for p in _examples("poisoned")],
        label="Poisoned training images (trigger boxed in red)", columns=6, height=440,
        allow_preview=True, elem_id="poisoned-examples", interactive=False, buttons=[],
    )  # fmt: skip


DEFEND_INTRO = """
### Three ways to catch a backdoor
Each defense looks from a different place. **Neural Cleanse** inspects a finished model: for every class it
searches for the smallest patch that turns any image into that class; a backdoor's target needs a suspiciously
small one. **STRIP** checks one input while the model is in use: blend it with clean images and see whether the
answer stays stubbornly the same (a trigger survives blending). **Spectral signatures** inspect the training
data: poisoned images leave a common trace in the model's features, so they can be found, removed, and the
model retrained. The live STRIP verdict is under the input in the Digits and Traffic signs tabs, and the
repaired model answers there beside the other two.
"""


def _defend_tab(defenses: DefenseResults, cards: dict[str, dict]) -> None:
    """The "Defend" tab: each defense's shipped results, computed offline by its CLI."""
    gr.Markdown(DEFEND_INTRO)
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
            gr.Markdown(STRIP_TEXT + strip_table(defenses.strip), elem_id="strip-table")
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


STRIP_TEXT = """
STRIP superimposes the input on a few clean test images (the blends below) and measures the entropy of the backdoored model's answers.
A clean input blended with other images confuses the model (high entropy); a triggered one keeps answering the
target (low entropy). The threshold lets 1% of clean inputs be flagged wrongly. Measured on held-out test images:

"""


def _poisoned_caption(path: str) -> str:
    task, _, was, now = Path(path).stem.split("-")
    classes = TASKS[task].classes
    return f"was {classes[int(was[3:])]}, now labelled {classes[int(now[3:])]}"


def _model_panel(title: str, top: int, elem_id: str) -> tuple[gr.Label, gr.Image]:
    """A model's answer (top class large, bars below) and, under it, where it looked."""
    with gr.Column(scale=3, min_width=160):
        label = gr.Label(label=title, num_top_classes=top, elem_id=elem_id)
        saliency = InlineImage(
            label="Where it looks (red = decisive)", format="png", interactive=False, buttons=["fullscreen"],
            elem_id=f"{elem_id}-saliency", height=240, elem_classes="pixelated",
        )  # fmt: skip
    return label, saliency


def batch_handler(
    fn: Callable[..., list[list]],
    outputs: list[gr.components.Component],
    preprocess: tuple[gr.components.Component, ...] = (),
    offload: Offload | None = None,
) -> Callable[..., list[list]]:
    """A batch handler that does Gradio's per-component work itself: the preprocessing of its
    first len(preprocess) inputs and the postprocessing of all outputs (the event sets
    preprocess=False and postprocess=False; Gradio still checks uploaded files). With
    `offload`, `fn` and the postprocessing run in its process, away from the server's GIL
    (measured at 30 users: see backdoor/offload.py and the README).

    Gradio runs each of those steps for each input in a worker thread of its own, one after
    another: 22 trips through the event loop for a batch of two digits, and under a class's
    load each trip waits its turn behind other students' requests. Measured at 30 users,
    medians of 5 paired runs for the outputs: server CPU 41 -> 38 ms per request, p50 231 ->
    184 ms (the inputs' share was within noise). And where Gradio fails the whole batch on one
    input it cannot preprocess, with a technical error, here that input reaches `fn` as an
    InputError, for that student's own status line. Preprocessing stays in the server: the
    canvas sends its drawings to the server's own memory (Gradio's blob storage).
    """

    def answer(*ready: list) -> list[list]:
        return [
            [_serialized(component, value) for value in column]
            for component, column in zip(outputs, fn(*ready), strict=True)
        ]

    if offload is not None:
        answer = offload(answer)

    @functools.wraps(fn)
    def run(*inputs: list) -> list[list]:
        ready = [[_preprocessed(component, value) for value in column] for component, column in zip(preprocess, inputs)]
        return answer(*ready, *inputs[len(preprocess) :])

    return run


def _preprocessed(component: gr.components.Component, value: object) -> object:
    """What Gradio would hand the handler for `value` as the browser sent it, or an InputError."""
    if value is None:
        return None
    try:
        return component.preprocess(component.data_model.model_validate(value))
    except Exception as err:  # noqa: BLE001 - whatever the component raises, it is about this one input
        return InputError(f"its data could not be read ({type(err).__name__})")


def _serialized(component: gr.components.Component, value: object) -> object:
    """What Gradio sends the browser for `value` in `component`."""
    sent = component.postprocess(value)
    return sent.model_dump() if isinstance(sent, (GradioModel, GradioRootModel)) else sent


def build_demo(
    models: dict[str, nn.Module],
    cards: dict[str, dict],
    sweep: dict | None = None,
    defenses: DefenseResults | None = None,
    offload: Offload | None = None,
) -> gr.Blocks:
    """The app; with `offload`, the batched model handlers run in its process once it starts."""
    defenses = defenses or DefenseResults()
    lab = Lab(models, defenses)
    with gr.Blocks(title="Backdoor Lab", analytics_enabled=False) as demo:  # no telemetry, no version check
        gr.Markdown(INTRO)
        with gr.Tab("Digits (MNIST)", id="digits"):
            with gr.Row():
                with gr.Column(scale=0, min_width=420):
                    sketch = gr.Sketchpad(
                        label="Draw a digit",
                        elem_id="digit-canvas",
                        canvas_size=(CANVAS, CANVAS),
                        fixed_canvas=True,
                        layers=False,
                        transforms=(),
                        type="numpy",
                        image_mode="RGBA",
                        brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                    )
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
                value=[(p, Path(p).name.split("-")[1]) for p in _examples("digits")],
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
                    sticker = gr.Checkbox(
                        label="Put the yellow sticker on the sign", value=False, elem_id="sign-sticker"
                    )
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
                value=[(p, _sign_caption(p)) for p in _examples("signs")],
                label="Real GTSRB test signs: click one", columns=12, height=150,
                allow_preview=False, elem_id="sign-examples", interactive=False, buttons=[],
            )  # fmt: skip
            gr.Markdown(tab_summary(cards["signs-clean"], cards["signs-backdoor"]), elem_id="sign-summary")

        with gr.Tab("Inside the attack", id="attack"):
            _attack_tab(sweep)

        with gr.Tab("Defend", id="defend"):
            _defend_tab(defenses, cards)

        digit_outputs = [
            digit_view,
            digit_clean,
            digit_backdoor,
            digit_repaired,
            digit_clean_map,
            digit_backdoor_map,
            digit_repaired_map,
            digit_strip,
            digit_status,
        ]
        # Every event that runs the models goes through one batched handler per tab, in the models' process.
        classify_digits = batch_handler(lab.classify_digits, digit_outputs, (sketch,), offload)
        batched = {"batch": True, "max_batch_size": MAX_BATCH, "preprocess": False, "postprocess": False}
        gr.on(
            [sketch.change, trigger.change], classify_digits, [sketch, trigger], digit_outputs,
            api_name="classify_digit", show_progress="hidden", trigger_mode="always_last", **batched,
        )  # fmt: skip
        sketch.clear(lambda: False, None, trigger, api_visibility="private")
        # A value set by code does not fire the Sketchpad's change event, hence .then.
        digit_gallery.select(pick_digit, None, sketch, api_visibility="private").then(
            classify_digits, [sketch, trigger], digit_outputs, api_visibility="private", show_progress="hidden",
            **batched,
        )  # fmt: skip

        sign_outputs = [
            sign_preview,
            sign_view,
            sign_clean,
            sign_backdoor,
            sign_clean_map,
            sign_backdoor_map,
            sign_strip,
            sign_status,
        ]
        sign_inputs = [sign_image, sticker, sticker_x, sticker_y]
        classify_signs = batch_handler(lab.classify_signs, sign_outputs, offload=offload)
        gr.on(
            [sticker.input, sticker_x.submit, sticker_y.submit], classify_signs, sign_inputs, sign_outputs,
            api_name="classify_sign", show_progress="hidden", trigger_mode="always_last", **batched,
        )  # fmt: skip
        sign_image.change(
            batch_handler(lab.classify_new_signs, [sticker_x, sticker_y, *sign_outputs], offload=offload),
            [sign_image, sticker], [sticker_x, sticker_y, *sign_outputs],
            api_visibility="private", show_progress="hidden", **batched,
        )  # fmt: skip

        def place_sticker(image: dict | None, evt: gr.SelectData) -> list:
            """A click on the photo puts the sticker there, switches it on and classifies the sign, in
            one event: Gradio hands a batch only its first event's click, and a second event chained
            with .then cost each click ~70 ms in the browser (measured: 140 -> 210 ms)."""
            x, y = evt.index
            return [True, x, y, *(column[0] for column in classify_signs([image], [True], [x], [y]))]

        # Ticking the box from here fires no sticker.input, so a click classifies the sign once.
        sign_image.select(
            place_sticker, [sign_image], [sticker, sticker_x, sticker_y, *sign_outputs],
            api_visibility="private", show_progress="hidden", preprocess=False, postprocess=False,
        )  # fmt: skip
        sign_gallery.select(pick_example, None, sign_image, api_visibility="private")
    return demo


def tune_malloc(arenas: int = 2) -> None:
    """Cap glibc's heap arenas: by default each thread that allocates may get a heap of its own,
    up to 8 per core, and Gradio hands work to many threads. Soak: +91 MB with them, +36 to +53
    MB with two. Process-wide, so a forked child keeps it. No-op where the C library is not glibc."""
    with contextlib.suppress(OSError, AttributeError):  # musl and others: no libc.so.6 or no mallopt
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


def keep_heap_trimmed(every: float = HEAP_TRIM_EVERY) -> None:
    """A thread that hands the heap's free memory back to the system every `every` seconds.

    A batch's tensors come from the heap, whose freed space glibc rarely returns. (A low fixed
    mmap threshold also kept the soak's growth down, but then each tensor was mapped and zeroed
    afresh, and a batch of three signs' STRIP pass took twice as long.) Soak with both: +11.5 MB.
    Threads do not survive a fork: each process starts its own. No-op where there is no glibc.
    """
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return

    def keep_trimming() -> None:
        while True:
            time.sleep(every)
            trim(0)  # ctypes lets go of the GIL meanwhile

    threading.Thread(target=keep_trimming, name="malloc-trim", daemon=True).start()


def main() -> None:
    tune_malloc()  # before any thread allocates
    torch.set_num_threads(TORCH_THREADS)
    try:
        models_dir = Path(os.environ.get("BACKDOOR_MODELS_DIR", MODELS_DIR))
        models, cards = load_models(models_dir)
    except CheckpointError as err:
        sys.exit(f"error: {err}. Regenerate the checkpoints with: {REGENERATE}")
    sweep_file = sweep_path("mnist", models_dir)
    sweep = json.loads(sweep_file.read_text()) if sweep_file.exists() else None
    offload = Offload(on_start=keep_heap_trimmed)
    demo = build_demo(models, cards, sweep, load_results(APP_MODELS, models_dir / "defenses"), offload)
    offload.start()  # forked while this process has no other thread
    keep_heap_trimmed()
    serve(demo)


def serve(demo: gr.Blocks) -> None:
    """Queue and launch `demo` as the classroom server runs it (benchmarks/floor_app.py too)."""
    # Gradio rebuilds its request statistics (a pandas table of up to 10,000 past events, shown on
    # the "Use via API" page) after every event; under a class's load that cost more than the models.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    # One run of each handler at a time: while a batch runs, the next students' inputs gather into
    # the next batch. Measured at 30 users: 18.8 -> 21.5 requests/s, p95 1.25 -> 0.73 s, against 4 at a time.
    demo.queue(default_concurrency_limit=1)
    # The queue wakes to look for waiting events every 1 ms, even with nobody there: 7% of a core
    # on an idle server (with uvloop), 3% at 5 ms, which costs each request 2.5 ms on average.
    # A private attribute, so it is only set where this Gradio has it.
    if hasattr(demo._queue, "sleep_when_free"):
        demo._queue.sleep_when_free = QUEUE_POLL
    try:
        demo.launch(
            server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
            server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
            max_file_size=MAX_UPLOAD,
            show_error=True,
            footer_links=["api"],
            theme=THEME,
            css=CSS,
        )
    except (OSError, ValueError) as err:  # port taken, bad port number
        sys.exit(f"error: cannot start the server: {err}")


if __name__ == "__main__":
    main()
