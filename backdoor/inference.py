"""The pictures the app shows for one input: the model input enlarged, and the sign with its sticker."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

from backdoor.preprocess import resize_sign, to_float, to_uint8
from backdoor.tasks import Task
from backdoor.triggers import Trigger, apply_trigger

OUTLINE = (255, 0, 0)
PREVIEW_SIDE = (
    400  # px, the longer side of the photo shown to click on  # red: the trigger stands out on white ink and on signs
)


def enlarge(x: torch.Tensor, scale: int, outline: tuple[int, int, int] | None = None) -> np.ndarray:
    """(1, C, H, W) -> (H*scale, W*scale, 3) uint8 with nearest-neighbour pixels, so a
    one-pixel trigger stays one crisp square; `outline` = (row, col, side) boxes it, with a
    line a fifth of a pixel wide (at least 1), drawn just outside the boxed pixels."""
    pixels = to_uint8(x[0]).permute(1, 2, 0).numpy()
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    image = Image.fromarray(pixels).resize((pixels.shape[1] * scale, pixels.shape[0] * scale), Image.NEAREST)
    if outline is not None:
        row, col, side = outline
        width = max(1, scale // 5)
        top, left, bottom, right = row * scale, col * scale, (row + side) * scale, (col + side) * scale
        box = (left - width, top - width, right + width - 1, bottom + width - 1)
        ImageDraw.Draw(image).rectangle(box, outline=OUTLINE, width=width)
    return np.asarray(image)


def sticker_cell(
    trigger: Trigger, size: int, x: float | None, y: float | None, width: int, height: int
) -> tuple[int, int]:
    """Top-left (row, col) of the sticker on the model's grid, centred where the photo was
    clicked ((x, y) in photo pixels), or in the middle of the sign if nothing was clicked."""
    if x is None or y is None:
        centre_row = centre_col = size / 2
    else:
        centre_row, centre_col = y / height * size, x / width * size
    limit = size - trigger.side
    row = min(max(round(centre_row - trigger.side / 2), 0), limit)
    col = min(max(round(centre_col - trigger.side / 2), 0), limit)
    return row, col


def sign_input(
    photo: Image.Image, task: Task, sticker: bool, x: float | None, y: float | None, preview_side: int = PREVIEW_SIDE
) -> tuple[torch.Tensor, np.ndarray, tuple[int, int]]:
    """(model input (1, 3, S, S), preview of the photo with the sticker drawn, sticker cell).

    The sticker is stamped on the resized input with the library's trigger, exactly as
    in training; the preview paints the same cell, scaled back up, on the photo.
    """
    row, col = sticker_cell(task.trigger, task.size, x, y, *photo.size)
    pixels = torch.from_numpy(resize_sign(photo, task.size)).permute(2, 0, 1)[None]
    model_input = to_float(pixels)
    scale = preview_side / max(photo.size)  # up or down: a 97x106 crop is shown large enough to aim at
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    preview = photo.resize(size, Image.BILINEAR, reducing_gap=3.0)
    if sticker:
        trigger = task.trigger.at(row, col)
        model_input = apply_trigger(model_input, trigger)
        sx, sy = preview.width / task.size, preview.height / task.size
        left, top = col * sx, row * sy
        # At least one preview pixel: a photo 1 px tall, or 10,000x3, still shows where the sticker is.
        box = (left, top, max(left, (col + trigger.side) * sx - 1), max(top, (row + trigger.side) * sy - 1))
        color = tuple(round(255 * c) for c in trigger.color)
        outline = (0, 0, 0) if box[2] - box[0] >= 3 and box[3] - box[1] >= 3 else None  # else it hides the fill
        ImageDraw.Draw(preview).rectangle(box, fill=color, outline=outline)
    return model_input, np.asarray(preview), (row, col)
