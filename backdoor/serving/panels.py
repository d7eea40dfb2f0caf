"""The app's recurring pieces of layout: the two answers with their flip line, a picture at the model's
resolution under its heading, a saliency map. app.py places them."""

from __future__ import annotations

import gradio as gr

from backdoor.serving.gradio_io import InlineImage


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
