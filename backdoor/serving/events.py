"""The app's event functions: Gradio's values in, Gradio's values out. The models' work goes to the worker;
app.py only places the components and wires these to their events."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from backdoor.checkpoints import load_checkpoint
from backdoor.gallery import digit_caption, examples, sign_caption
from backdoor.inference import camera_box, parse_frame, photo_point
from backdoor.lab import CAMERA_FROZEN, CAMERA_ON, SIGN_PROMPT, VIEW_SCALE, camera_problem, parse_pixels
from backdoor.preprocess import InputError, upright_size
from backdoor.serving.handlers import answer_digits, answer_frames, answer_signs
from backdoor.serving.worker import Worker
from backdoor.shipped import APP_MODELS, DIGIT_CAST, MODELS_DIR, weights_path

TABS = ("digits", "signs", "attack", "defend")


def load_cards(models_dir: Path = MODELS_DIR) -> dict[str, dict]:
    """The seven shipped checkpoints' cards, each after its weights passed the hash and shape checks."""
    return {name: load_checkpoint(weights_path(name, models_dir))[1] for name in APP_MODELS}


class Classify:
    """The batched model events (Gradio's batch format: one list per input and per output), run by `worker`."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker

    def digits(
        self, sketches: list, triggers: list[bool], pixels: list[str] | None = None, attacks: list[str] | None = None
    ) -> list[list]:
        drawings = [s.get("composite") if isinstance(s, dict) else s for s in sketches]  # or None, InputError
        return self.worker.run(answer_digits, drawings, triggers, pixels, attacks)

    def signs(self, images: list, stickers: list[bool], xs: list, ys: list, frames: list) -> list[list]:
        return self._signs(images, stickers, xs, ys, frames)[:-1]

    def new_signs(self, images: list, stickers: list[bool]) -> list[list]:
        """A new photo is framed on the sign the finder finds (or left whole), the sticker in the middle of
        it: (x, y, frame, *outputs); the frame box keeps the frame, so clicks do not search again."""
        middle, find = [None] * len(images), [""] * len(images)
        *outputs, frames = self._signs(images, stickers, middle, middle, find)
        return [middle, middle, frames, *outputs]

    def camera(self, frame: np.ndarray | None, sticker: bool, state: str | None = "live") -> list:
        """One live frame (the webcam's stream, not batched): the models read the square in its middle; only that
        square crosses to the worker (a 640x480 frame's 360x360). `state` is what the camera buttons last did: a
        frozen camera's frame gets the frozen status line, and a frame that arrives after the camera stopped (or
        Start over) changes nothing."""
        if state not in ("started", "live", "frozen") or frame is None or frame.ndim != 3 or min(frame.shape[:2]) < 1:
            return [gr.skip()] * len(CAMERA_OUTPUTS)
        left, top, side = camera_box(frame.shape[1], frame.shape[0])
        square = np.ascontiguousarray(frame[top : top + side, left : left + side, :3])
        *answers, status = [column[0] for column in self.worker.run(answer_frames, [square], [bool(sticker)])]
        return [*answers, CAMERA_FROZEN if state == "frozen" and status == CAMERA_ON else status]

    def _signs(self, images: list, stickers: list[bool], xs: list, ys: list, frames: list) -> list[list]:
        points = [None if x is None or y is None else (x, y) for x, y in zip(xs, ys)]
        return self.worker.run(answer_signs, [_path(image) for image in images], stickers, points, frames)


CAMERA_OUTPUTS = ("view", "clean", "backdoored", "clean map", "backdoored map", "strip", "flip", "status")


def camera_said(state: str | None) -> tuple[str, str, gr.Button, gr.Button]:
    """What the page's camera did (page.js labCamera: started, live, frozen, stopped, error:NAME), kept for the
    stream, as the status line, the camera button and the freeze button (shown while the camera runs)."""
    state = state or "stopped"
    if state.startswith("error:"):
        status, running = camera_problem(state.removeprefix("error:")), False
    else:
        status, running = {"started": CAMERA_ON, "live": CAMERA_ON, "frozen": CAMERA_FROZEN}.get(state), True
        if status is None:
            status, running = SIGN_PROMPT, False
    return (
        state,
        status,
        gr.Button("Stop the camera" if running else "Use the camera"),
        gr.Button("Unfreeze" if state == "frozen" else "Freeze", visible=running),
    )


def sticker_placed(
    signs: Callable[..., list[list]], image: dict | str | None, frame: str, point: tuple[float, float] | None, n: int
) -> list:
    """A click on the photo: the sticker box ticked, its (x, y) and the sign's `n` outputs, in one event (a
    second event chained with .then cost each click ~70 ms in the browser); nothing changes for no point."""
    if point is None:
        return [gr.skip()] * (3 + n)
    x, y = point
    return [True, x, y, *(column[0] for column in signs([image], [True], [x], [y], [frame]))]


def preview_point(image: dict | str | None, frame: str, index: tuple[int, int]) -> tuple[float, float] | None:
    """Where a click on the enlarged (and perhaps framed) photo lands on the photo, in its pixels; None if the
    photo or the frame cannot be read."""
    try:
        return photo_point(*upright_size(_path(image)), parse_frame(frame), index)
    except (OSError, ValueError, TypeError, ZeroDivisionError):
        return None


def start_values(outputs: list, status: object, prompt: str) -> list:
    """Every output empty, the status line back to its prompt (wherever it sits in `outputs`)."""
    return [prompt if output is status else None for output in outputs]


def pick_example(evt: gr.SelectData) -> str:
    return evt.value["image"]["path"]


def pick_digit(evt: gr.SelectData) -> tuple[dict, str]:
    """A real MNIST digit from the gallery, with no pixels made white by hand."""
    path = evt.value["image"]["path"]
    return {"background": path, "layers": [], "composite": path}, ""


def toggle_pixel(pixels: str, evt: gr.SelectData) -> str:
    """A click on the model's input (shown VIEW_SCALE x enlarged) makes that pixel white, or undoes it: the
    "row,col;row,col" text the digit event reads. A text that cannot be read starts afresh."""
    x, y = evt.index
    cell = (int(y) // VIEW_SCALE, int(x) // VIEW_SCALE)
    try:
        cells = list(parse_pixels(pixels))
    except InputError:
        cells = []
    cells = [c for c in cells if c != cell] if cell in cells else [*cells, cell]
    return ";".join(f"{r},{c}" for r, c in cells)


def open_link(request: gr.Request) -> list:
    """A worksheet's link opens a tab, an example and an attack: ?tab=signs&example=stop, ?tab=digits&example=7,
    ?attack=blend. Outputs: the tabs, the sign photo, the drawing, the attack."""
    tab = request.query_params.get("tab")
    wanted = (request.query_params.get("example") or "").lower()
    attack = (request.query_params.get("attack") or "").lower()
    sign = next((p for p in examples("signs") if wanted and wanted in sign_caption(p).lower()), None)
    digit = next((p for p in examples("digits") if wanted and wanted == digit_caption(p)), None)
    return [
        gr.Tabs(selected=tab) if tab in TABS else gr.Tabs(),
        sign if tab == "signs" and sign else gr.skip(),
        {"background": digit, "layers": [], "composite": digit} if tab in (None, "digits") and digit else gr.skip(),
        attack if attack in DIGIT_CAST.attacks else gr.skip(),
    ]


def _path(image: dict | str | None) -> str | None:
    """The file path of an image as an event with preprocess=False receives it (Gradio's FileData)."""
    return image.get("path") if isinstance(image, dict) else image
