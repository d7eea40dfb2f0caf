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
from backdoor.checkpoints import CheckpointError
from backdoor.defenses.results import DefenseResults, load_results
from backdoor.gallery import digit_caption, examples, sign_caption
from backdoor.lab import ATTACK_CHOICES, DIFFERENCE_GAIN, DRAW_PROMPT, SIGN_PROMPT, WHOLE
from backdoor.report import sweep_path, tab_summary
from backdoor.serving.events import (
    Classify,
    camera_said,
    load_cards,
    open_link,
    pick_digit,
    pick_example,
    preview_point,
    start_values,
    sticker_placed,
    toggle_pixel,
)
from backdoor.serving.gradio_io import batch_handler
from backdoor.serving.panels import answers, camera_buttons, picture, saliency, webcam
from backdoor.serving.result_tabs import attack_tab, defend_tab
from backdoor.serving.server import (
    BATCHED, CAMERA_JS, CLEAR_CANVAS, PAGE_CSS, PAGE_JS, START_OVER, serve, toggle_body_class,
)  # fmt: skip
from backdoor.serving.worker import Worker
from backdoor.shipped import APP_MODELS, MODELS_DIR

CANVAS = 280  # px; the digit is rescaled to 20 px inside 28x28 anyway
# System fonts: the default theme fetches its fonts from Google, which a classroom may not reach.
THEME = gr.themes.Default(
    font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "Consolas", "monospace"]
)


def build_demo(
    cards: dict[str, dict],
    sweep: dict | None = None,
    defenses: DefenseResults | None = None,
    worker: Worker | None = None,
    models_dir: Path = MODELS_DIR,
) -> gr.Blocks:
    """The app. The models answer in `worker`'s process once it is started (in this one before)."""
    defenses = defenses or DefenseResults()
    worker = worker or Worker()
    with gr.Blocks(title="Backdoor Lab", analytics_enabled=False) as demo:  # no telemetry, no version check
        with gr.Row(equal_height=True):
            gr.Markdown(texts.INTRO, elem_id="intro")
            details = gr.Checkbox(label="Show details", elem_id="show-details", scale=0, min_width=170)
            reset = gr.Button("Start over", elem_id="reset", scale=0, min_width=140)
        with gr.Tabs(selected="digits", elem_id="tabs") as tabs:
            with gr.Tab("Digits", id="digits"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=0, min_width=300):
                        sketch = gr.Sketchpad(
                            label="Draw a digit", elem_id="digit-canvas", canvas_size=(CANVAS, CANVAS),
                            fixed_canvas=True, layers=False, transforms=(), type="numpy", image_mode="RGBA",
                            brush=gr.Brush(default_size=10, colors=["#000000"], color_mode="fixed"),  # a tap makes a trigger-sized dot
                        )  # fmt: skip
                        with gr.Row():
                            trigger = gr.Checkbox(label="Add the trigger", elem_id="digit-trigger")
                            # A big Clear, as the static edition has: the canvas' own bin is small and far away.
                            clear = gr.Button("Clear", elem_id="digit-clear", scale=0, min_width=100)
                        # Pixels of the model's input made white by hand (a click on the view toggles one).
                        digit_pixels = gr.Textbox(
                            label="Pixels made white by hand (row,col;row,col)", value="", elem_id="digit-pixels",
                            visible=False,
                        )  # fmt: skip
                        # Compact, under the trigger it changes: the status line below still fits a projector's screen.
                        attack = gr.Radio(
                            ATTACK_CHOICES, value=ATTACK_CHOICES[0][1], elem_id="digit-attack", container=False,
                            label="Attack: the trigger, and the backdoored model that learnt it", show_label=False,
                        )  # fmt: skip
                        digit_status = gr.Markdown(DRAW_PROMPT, elem_id="digit-status")
                    with gr.Column(scale=1, min_width=300):
                        digit_clean, digit_backdoor, digit_flip = answers(10, "digit")
                        with gr.Row():
                            with gr.Column(min_width=150):
                                with gr.Column(elem_classes="model-view"):
                                    digit_view = picture("**What the models see** (28×28)", "digit-input-view", 168)
                                # The same place shows the trigger itself, made visible (page.css swaps the two).
                                with gr.Column(elem_classes="difference-view"):
                                    digit_difference = picture(
                                        f"**The difference** the trigger makes, ×{DIFFERENCE_GAIN}",
                                        "digit-difference-view", 168,
                                    )  # fmt: skip
                                difference = gr.Checkbox(label="Show the difference", elem_id="digit-difference")
                            gr.Markdown(texts.TRY_DIGITS, elem_classes="lesson")
                with gr.Row(elem_classes="lab-detail"):
                    digit_clean_map = saliency("Clean model", "digit-clean")
                    digit_backdoor_map = saliency("Backdoored model", "digit-backdoor")
                    with gr.Column(min_width=160):
                        digit_repaired = gr.Label(
                            label="Repaired model (retrained without the poisoned images)", num_top_classes=10,
                            elem_id="digit-repaired",
                        )  # fmt: skip
                    digit_repaired_map = saliency("Repaired model", "digit-repaired")
                digit_strip = gr.Markdown(elem_id="digit-strip", elem_classes="lab-detail")
                digit_gallery = gr.Gallery(
                    value=[(p, digit_caption(p)) for p in examples("digits")],
                    label="Real MNIST test digits: click one", columns=10, height=210, allow_preview=False,
                    elem_id="digit-examples", elem_classes="examples", interactive=False, buttons=[],
                )  # fmt: skip
                gr.Markdown(
                    tab_summary(cards["mnist-clean"], cards["mnist-backdoor"]), elem_id="digit-summary",
                    elem_classes="lab-detail",
                )  # fmt: skip

            with gr.Tab("Signs", id="signs"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=0, min_width=320):
                        gr.Markdown(
                            "**1. Pick a sign** (real GTSRB test photos), or upload your own", elem_classes="heading"
                        )
                        sign_gallery = gr.Gallery(
                            value=[(p, sign_caption(p)) for p in examples("signs")], show_label=False,
                            columns=3, height="auto", allow_preview=False, elem_id="sign-examples",
                            elem_classes="examples", interactive=False, buttons=[],
                        )  # fmt: skip
                        sign_image = gr.Image(
                            label="Your photo", type="filepath", sources=["upload", "clipboard"],
                            elem_id="sign-image", height=180,
                        )  # fmt: skip
                        camera, freeze, camera_state = camera_buttons()
                    with gr.Column(scale=1, min_width=280):
                        sign_webcam = webcam()  # in the photo's place while the camera runs
                        sign_preview = picture(
                            "**2. Click the sign** to put the yellow sticker there; drag a box to frame it",
                            "sign-preview",
                            380,
                            "jpeg",
                        )
                        with gr.Row():
                            sticker = gr.Checkbox(label="Put the yellow sticker on the sign", elem_id="sign-sticker")
                            unframe = gr.Button("Whole photo", elem_id="sign-unframe", scale=0, min_width=130)
                        # Dragging a box on the photo frames the sign (backdoor/serving/page.js writes it here).
                        sign_frame = gr.Textbox(
                            label="Frame of the sign: left, top, right, bottom as fractions of the photo",
                            value="", elem_id="sign-frame", elem_classes="offscreen",
                        )  # fmt: skip
                        # page.js clicks this once it has written a dragged frame: the Textbox's own input event
                        # does not fire for a value set by script, so the drag got no answer (issue 25).
                        frame_drawn = gr.Button("Answer for this frame", elem_id="sign-frame-drawn", elem_classes="offscreen")
                        sign_status = gr.Markdown(SIGN_PROMPT, elem_id="sign-status")
                    with gr.Column(scale=2, min_width=340):
                        sign_clean, sign_backdoor, sign_flip = answers(5, "sign")
                        sign_view = picture("**What the models see** (32×32)", "sign-input-view", 168)
                        gr.Markdown(texts.TRY_SIGNS, elem_classes="lesson")
                with gr.Row(elem_classes="lab-detail"):
                    sign_clean_map = saliency("Clean model", "sign-clean")
                    sign_backdoor_map = saliency("Backdoored model", "sign-backdoor")
                    sign_strip = gr.Markdown(elem_id="sign-strip")
                # The API's sticker position (photo pixels); in the page a click on the photo sets it.
                sticker_x = gr.Number(label="Sticker x (photo pixels)", elem_id="sign-x", visible=False)
                sticker_y = gr.Number(label="Sticker y (photo pixels)", elem_id="sign-y", visible=False)
                gr.Markdown(
                    tab_summary(cards["signs-clean"], cards["signs-backdoor"]), elem_id="sign-summary",
                    elem_classes="lab-detail",
                )  # fmt: skip

            with gr.Tab("Attack", id="attack"):
                attack_tab(sweep, models_dir)

            with gr.Tab("Defend", id="defend"):
                defend_tab(defenses, cards, models_dir)
        with gr.Accordion("Lesson plan: seven steps, a question each", open=False, elem_id="lesson-plan"):
            gr.Markdown(texts.LESSON, elem_classes="lesson")

        classify = Classify(worker)
        digit_outputs = [
            digit_view, digit_clean, digit_backdoor, digit_repaired, digit_clean_map, digit_backdoor_map,
            digit_repaired_map, digit_difference, digit_strip, digit_flip, digit_status,
        ]  # fmt: skip
        # Every event that runs the models goes through one batched handler per tab.
        digits = batch_handler(classify.digits, digit_outputs, (sketch,))
        digit_inputs = [sketch, trigger, digit_pixels, attack]  # the attack last: older API calls keep working
        gr.on(
            [sketch.change, trigger.change, attack.change], digits, digit_inputs, digit_outputs,
            api_name="classify_digit", show_progress="hidden", trigger_mode="always_last", **BATCHED,
        )  # fmt: skip
        sketch.clear(lambda: (False, ""), None, [trigger, digit_pixels], api_visibility="private")
        # A value set by code does not fire the Sketchpad's change event, hence .then.
        # show_progress_on=[]: an event that shows progress on the Sketchpad makes Gradio export the drawing for each
        # status update, and its late "pending" can land after "complete": the spinner stayed over the canvas.
        digit_gallery.select(
            pick_digit, None, [sketch, digit_pixels], api_visibility="private", show_progress_on=[]
        ).then(
            digits, digit_inputs, digit_outputs, api_visibility="private", show_progress="hidden", **BATCHED
        )
        clear.click(None, None, None, js=CLEAR_CANVAS, api_visibility="private")  # the canvas' clear event follows
        digit_view.select(toggle_pixel, digit_pixels, digit_pixels, api_visibility="private").then(
            digits, digit_inputs, digit_outputs, api_visibility="private", show_progress="hidden", **BATCHED
        )

        sign_outputs = [
            sign_preview, sign_view, sign_clean, sign_backdoor, sign_clean_map, sign_backdoor_map, sign_strip,
            sign_flip, sign_status,
        ]  # fmt: skip
        signs = batch_handler(classify.signs, sign_outputs)
        sign_inputs = [sign_image, sticker, sticker_x, sticker_y, sign_frame]
        gr.on(
            [sticker.input, sticker_x.submit, sticker_y.submit, frame_drawn.click], signs, sign_inputs, sign_outputs,
            api_name="classify_sign", show_progress="hidden", trigger_mode="always_last", **BATCHED,
        )  # fmt: skip
        unframe.click(lambda: WHOLE, None, sign_frame, api_visibility="private").then(
            signs, sign_inputs, sign_outputs, api_visibility="private", show_progress="hidden", **BATCHED
        )
        sign_image.change(
            batch_handler(classify.new_signs, [sticker_x, sticker_y, sign_frame, *sign_outputs]), [sign_image, sticker],
            [sticker_x, sticker_y, sign_frame, *sign_outputs], api_visibility="private", show_progress="hidden",
            **BATCHED,
        )  # fmt: skip

        def place_sticker(image: dict | None, frame: str, evt: gr.SelectData) -> list:
            return sticker_placed(signs, image, frame, tuple(evt.index), len(sign_outputs))

        def place_sticker_on_preview(image: dict | None, frame: str, evt: gr.SelectData) -> list:
            return sticker_placed(signs, image, frame, preview_point(image, frame, evt.index), len(sign_outputs))

        # Ticking the box from here fires no sticker.input, so a click classifies the sign once.
        for photo, place in ((sign_image, place_sticker), (sign_preview, place_sticker_on_preview)):
            photo.select(
                place, [sign_image, sign_frame], [sticker, sticker_x, sticker_y, *sign_outputs],
                api_visibility="private", show_progress="hidden", preprocess=False, postprocess=False,
            )  # fmt: skip
        sign_gallery.select(pick_example, None, sign_image, api_visibility="private")
        # The live camera: page.js starts, freezes and stops Gradio's webcam (CAMERA_JS) and says what happened; each
        # streamed frame is answered in the same panels. concurrency_limit=None: a stream holds its slot for as long
        # as it runs, and with the default of one a second presenter got no frames at all.
        # Freeze pauses the video and the stream goes on answering that one frame, so the sticker box still works
        # on it; camera_state tells each frame's answer which status line is due (none once the camera stopped).
        camera_outputs = [camera_state, sign_status, camera, freeze]
        for button, js in ((camera, CAMERA_JS["toggle"]), (freeze, CAMERA_JS["freeze"])):
            button.click(
                camera_said, camera_state, camera_outputs, js=js, api_visibility="private", show_progress="hidden"
            )
        streaming = sign_webcam.stream(
            classify.camera, [sign_webcam, sticker, camera_state], sign_outputs[1:], api_visibility="private",
            stream_every=0.1, time_limit=None, concurrency_limit=None, show_progress="hidden",
        )  # fmt: skip

        details.change(None, details, None, js=toggle_body_class("lab-details"))
        difference.change(None, difference, None, js=toggle_body_class("show-difference"))
        # What Start over puts back, by component; every answer empty, each status line its prompt.
        starting = {
            trigger: False, digit_pixels: "", attack: ATTACK_CHOICES[0][1], difference: False,
            sign_image: None, sticker: False, sticker_x: None, sticker_y: None, sign_frame: "",
            camera: gr.update(value="Use the camera"), freeze: gr.update(value="Freeze", visible=False),
            camera_state: "stopped",
        }  # fmt: skip
        # The canvas is cleared by its own Clear button (CLEAR_CANVAS), not by a value from the server.
        reset.click(
            lambda: [*starting.values(), *start_values(digit_outputs, digit_status, DRAW_PROMPT),
                     *start_values(sign_outputs, sign_status, SIGN_PROMPT)],
            None, [*starting, *digit_outputs, *sign_outputs], api_visibility="private", show_progress="hidden",
            js=START_OVER, cancels=[streaming],  # a frame still in the worker must not refill the panels
        )  # fmt: skip
        # (No show_progress_on=[] here: the link's answer below reads the Sketchpad, and without the status updates
        # its new value could be read before it had settled, under load: the answer was the empty canvas's.)
        demo.load(open_link, None, [tabs, sign_image, sketch, attack], api_visibility="private").then(
            digits, digit_inputs, digit_outputs, api_visibility="private", show_progress="hidden", **BATCHED
        )
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
    serve(build_demo(cards, sweep, defenses, worker, models_dir), theme=THEME, css=PAGE_CSS, js=PAGE_JS)


if __name__ == "__main__":
    main()
