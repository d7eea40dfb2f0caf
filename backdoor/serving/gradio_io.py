"""Gradio glue: pictures sent inline, and batch handlers that do Gradio's per-input work themselves.

Both lean on Gradio internals (ImageData, a component's data_model, preprocess and postprocess);
tests/test_serving.py fails loudly if a Gradio upgrade changes them.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable

import gradio as gr
import numpy as np
from gradio.data_classes import GradioModel, GradioRootModel, ImageData
from PIL import Image

from backdoor.preprocess import InputError


class InlineImage(gr.Image):
    """An output image sent inside the event's answer, as a data URL.

    gr.Image writes every output to Gradio's file cache (PNG encoding, hashing, a file that stays
    until the server stops) and the browser fetches it in a second request: for these small
    pictures that cost the server more than the models did, and the cache grew with every stroke.
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


def batch_handler(
    fn: Callable[..., list[list]],
    outputs: list[gr.components.Component],
    preprocess: tuple[gr.components.Component, ...] = (),
) -> Callable[..., list[list]]:
    """A batch handler for an event with preprocess=False and postprocess=False: it preprocesses its
    first len(preprocess) inputs and postprocesses all outputs itself, input by input.

    Gradio runs each of those steps in a worker thread of its own, one after another: 22 trips
    through the event loop for a batch of two digits, each waiting its turn under a class's load
    (server CPU 41 -> 38 ms per request, p50 231 -> 184 ms at 30 users; docs/performance.md).
    And where Gradio fails the whole batch on one input it cannot preprocess (a damaged drawing),
    here that input reaches `fn` as an InputError, for that student's own status line. Gradio still
    checks each payload's shape against its component before this runs: a payload that does not fit
    it at all, which only a hand-made API call sends, fails its batch there.
    """

    @functools.wraps(fn)
    def run(*inputs: list) -> list[list]:
        ready = [[preprocessed(component, value) for value in column] for component, column in zip(preprocess, inputs)]
        columns = fn(*ready, *inputs[len(preprocess) :])
        return [
            [serialized(component, value) for value in column]
            for component, column in zip(outputs, columns, strict=True)
        ]

    return run


def preprocessed(component: gr.components.Component, value: object) -> object:
    """What Gradio would hand a handler for `value` as the browser sent it, or an InputError."""
    if value is None:
        return None
    try:
        return component.preprocess(component.data_model.model_validate(value))
    except Exception as err:  # noqa: BLE001 - whatever the component raises, it is about this one input
        return InputError(f"its data could not be read ({type(err).__name__})")


def serialized(component: gr.components.Component, value: object) -> object:
    """What Gradio sends the browser for `value` in `component`."""
    sent = component.postprocess(value)
    return sent.model_dump() if isinstance(sent, (GradioModel, GradioRootModel)) else sent
