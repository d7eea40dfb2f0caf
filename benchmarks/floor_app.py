"""The app's two API endpoints with nothing behind them: what Gradio alone costs per request.

    python -m benchmarks.load --app benchmarks.floor_app

Same inputs as app.py's /classify_digit and /classify_sign (a Sketchpad drawing and a
photo upload, preprocessed the same way), the same queue, batching and launch settings
(`app.serve`), and one short text answer. The load benchmark against it gives the floor
that no handler can go below on the machine it runs on.
"""

from __future__ import annotations

import gradio as gr

from backdoor.lab import ATTACK_CHOICES
from backdoor.serving.server import MAX_BATCH, serve


def classify_digits(
    sketches: list[dict | None], triggers: list[bool], pixels: list[str], attacks: list[str]
) -> list[list[str]]:
    return [[f"trigger {'on' if trigger else 'off'}" for trigger in triggers]]


def classify_signs(images: list, stickers: list[bool], xs: list, ys: list, frames: list) -> list[list[str]]:
    return [[f"sticker {'on' if sticker else 'off'}" for sticker in stickers]]


def main() -> None:
    with gr.Blocks(analytics_enabled=False) as demo:
        sketch = gr.Sketchpad(type="numpy", image_mode="RGBA")
        trigger = gr.Checkbox()
        pixels = gr.Textbox(value="")  # pixels made white by hand
        attack = gr.Radio(ATTACK_CHOICES, value=ATTACK_CHOICES[0][1])
        photo = gr.Image(type="filepath")
        sticker = gr.Checkbox()
        x, y, frame = gr.Number(), gr.Number(), gr.Textbox(value="")
        digit_answer, sign_answer = gr.Markdown(), gr.Markdown()
        gr.on(
            [trigger.change], classify_digits, [sketch, trigger, pixels, attack], digit_answer,
            api_name="classify_digit", batch=True, max_batch_size=MAX_BATCH,
        )  # fmt: skip
        gr.on(
            [sticker.change], classify_signs, [photo, sticker, x, y, frame], sign_answer,
            api_name="classify_sign", batch=True, max_batch_size=MAX_BATCH, preprocess=False,
        )  # fmt: skip
    serve(demo)  # queued, batched and launched as app.py is


if __name__ == "__main__":
    main()
