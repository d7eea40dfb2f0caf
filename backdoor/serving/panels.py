"""The app's recurring pieces of layout: the two answers with their flip line, a picture at the model's
resolution under its heading, a saliency map, the camera's buttons and its picture. app.py places them."""

from __future__ import annotations

import gradio as gr

from backdoor.serving.gradio_io import InlineImage
from backdoor.serving.server import WEBCAM


def answers(top: int, tab: str) -> tuple[gr.Label, gr.Label, gr.Markdown]:
    """The clean and the backdoored model's answers side by side, each top class large (the runners-up with
    "Show details"), and under them the line that marks when they disagree."""
    with gr.Row():
        clean, backdoor = (
            gr.Label(
                label=f"{title} model",
                num_top_classes=top,
                elem_id=f"{tab}-{kind}",
                elem_classes="answer",
                min_width=150,
            )
            for title, kind in (("Clean", "clean"), ("Backdoored", "backdoor"))
        )
    return clean, backdoor, gr.Markdown(elem_id=f"{tab}-flip", elem_classes="flip")


def picture(heading: str, elem_id: str, height: int, image_format: str = "png") -> InlineImage:
    """A picture at the model's resolution, scaled up pixel by pixel, its heading above it (a label would cover it)."""
    gr.Markdown(heading, elem_classes="heading")
    return InlineImage(
        show_label=False, format=image_format, interactive=False, buttons=["fullscreen"], elem_id=elem_id,
        height=height, elem_classes="pixelated" if image_format == "png" else None,
    )  # fmt: skip


def saliency(model: str, elem_id: str) -> InlineImage:
    with gr.Column(min_width=160):
        return picture(f"**{model}**: what its answer depends on (brighter = more)", f"{elem_id}-saliency", 200)


def camera_buttons() -> tuple[gr.Button, gr.Button, gr.Textbox]:
    """Start (and stop) the camera, freeze it (shown while it runs), and the hidden box where page.js's camera
    says what it did, for `events.camera_said` and the stream."""
    with gr.Row():
        camera = gr.Button("Use the camera", elem_id="sign-camera", scale=0, min_width=150)
        freeze = gr.Button("Freeze", elem_id="sign-freeze", scale=0, min_width=110, visible=False)
    return camera, freeze, gr.Textbox(visible=False)


def webcam() -> gr.Image:
    """Gradio's streaming webcam, off screen until the camera runs (page.css); page.js drives it from the buttons."""
    return gr.Image(
        label="The camera: the models see the white square", sources=["webcam"], streaming=True, type="numpy",
        webcam_options=WEBCAM, elem_id="sign-webcam", height=380,
    )  # fmt: skip
