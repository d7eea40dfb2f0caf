"""backdoor.serving's reliance on Gradio internals: each test fails loudly if an upgrade changes one."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from backdoor.serving import gradio_stubs  # noqa: F401 - before gradio, as app.py does

# isort: split
import gradio as gr
import numpy as np
from PIL import Image

from backdoor.preprocess import InputError
from backdoor.serving.gradio_io import InlineImage, batch_handler
from backdoor.serving.server import QUEUE_POLL, set_queue_poll
from tests.conftest import ROOT


def test_an_inline_image_arrives_as_a_data_url_that_decodes_to_the_same_pixels():
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    sent = InlineImage(format="png").postprocess(pixels).model_dump()
    header, data = sent["url"].split(",", 1)
    assert header == "data:image/png;base64"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(base64.b64decode(data)))), pixels)


def test_a_batch_handler_preprocesses_each_input_and_isolates_the_one_it_cannot_read(tmp_path):
    """Gradio's Sketchpad data model and preprocess, as the browser's payload reaches them."""
    with gr.Blocks():
        sketch = gr.Sketchpad(type="numpy", image_mode="RGBA")
        label = gr.Label()
    digit = str(ROOT / "examples" / "digits" / "digit-7-test00000.png")
    good = {"background": None, "layers": [], "composite": {"path": digit, "meta": {"_type": "gradio.FileData"}}}
    broken = tmp_path / "broken.png"
    broken.write_bytes(Path(digit).read_bytes()[:100])  # a canvas upload cut short
    damaged = {
        "background": None,
        "layers": [],
        "composite": {"path": str(broken), "meta": {"_type": "gradio.FileData"}},
    }

    def shapes(sketches: list, flags: list) -> list[list]:
        return [[{"ok": 1.0} if isinstance(s, dict) and s["composite"].ndim == 3 and s["composite"].shape[2] == 4 else {type(s).__name__: 1.0}
                 for s in sketches]]  # fmt: skip

    (answers,) = batch_handler(shapes, [label], (sketch,))([good, damaged, None], [True, True, True])
    assert [a["label"] for a in answers] == ["ok", InputError.__name__, "NoneType"]


def test_the_queue_poll_attribute_still_exists():
    with gr.Blocks() as demo:
        gr.Markdown("x")
    demo.queue()
    assert set_queue_poll(demo, QUEUE_POLL), "Gradio's queue no longer has sleep_when_free: drop set_queue_poll"
    assert demo._queue.sleep_when_free == QUEUE_POLL
