"""The pictures the app shows for one input: the model input enlarged, and the sign with its sticker."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image, ImageDraw

from backdoor.preprocess import resize_sign, to_float, to_uint8
from backdoor.tasks import Task
from backdoor.triggers import Patch, apply_trigger

OUTLINE = (255, 0, 0)  # red: the trigger stands out on white ink and on signs
PREVIEW_SIDE = 400  # px, the longer side of the photo shown to click on


def enlarge(x: torch.Tensor, scale: int, outline: tuple[int, int, int] | None = None) -> np.ndarray:
    """(1, C, H, W) -> (H*scale, W*scale, 3) uint8 with nearest-neighbour pixels, so a
    one-pixel trigger stays one crisp square; `outline` = (row, col, side) boxes it, with a
    line a third of a pixel wide (at least 1: 2 px at the views' 6x, to be seen from the back of a room), drawn
    just outside the boxed pixels."""
    pixels = to_uint8(x[0]).permute(1, 2, 0).numpy()
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    image = Image.fromarray(pixels).resize((pixels.shape[1] * scale, pixels.shape[0] * scale), Image.NEAREST)
    if outline is not None:
        row, col, side = outline
        width = max(1, scale // 3)
        top, left, bottom, right = row * scale, col * scale, (row + side) * scale, (col + side) * scale
        box = (left - width, top - width, right + width - 1, bottom + width - 1)
        ImageDraw.Draw(image).rectangle(box, outline=OUTLINE, width=width)
    return np.asarray(image)


def sticker_cell(
    trigger: Patch, size: int, x: float | None, y: float | None, width: int, height: int
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


def cell_point(trigger: Patch, size: int, row: int, col: int) -> tuple[float, float]:
    """`sticker_cell`'s inverse: (x, y) as fractions of the photo that put the sticker's top-left on (row, col), the
    middle of the span that rounds to that cell, so a point a little off still lands there (tests, benchmarks)."""
    return (col + trigger.side / 2) / size, (row + trigger.side / 2) / size


Frame = tuple[float, float, float, float]  # left, top, right, bottom as fractions of the photo

CAMERA_SQUARE = 0.75  # the live camera's square: the middle of the frame, this share of its shorter side


def camera_box(width: int, height: int, square: float = CAMERA_SQUARE) -> tuple[int, int, int]:
    """(left, top, side) in frame pixels of the square the models see in a live frame (web/camera.js cameraBox)."""
    side = max(1, math.floor(square * min(width, height) + 0.5))  # JS's Math.round
    return (width - side) // 2, (height - side) // 2, side


def camera_frame(width: int, height: int) -> Frame:
    """`camera_box` as a frame (fractions of the photo), as `sign_input` takes it."""
    left, top, side = camera_box(width, height)
    return left / width, top / height, (left + side) / width, (top + side) / height


def sticker_corners(trigger, row: int, col: int) -> list[tuple[float, float]]:
    """The presented sticker's corners (x, y) on the model's grid, its box's top-left at (row, col): a square turned
    by the trigger's tilt (a note), or upright (a patch). The previews draw it (web/main.js drawSticker)."""
    half = trigger.side / 2
    angle = math.radians(getattr(trigger, "tilt", 0.0))
    cos, sin = math.cos(angle), math.sin(angle)
    cx, cy = col + half, row + half
    return [(cx + half * (u * cos - v * sin), cy + half * (u * sin + v * cos)) for u, v in ((-1, -1), (1, -1), (1, 1), (-1, 1))]


def parse_frame(text: str | None) -> Frame | None:
    """ "left, top, right, bottom" as fractions of the photo (0-1), as the page and the API send it; None
    for an empty one (the whole photo). Raises ValueError, in words for the person who sent it."""
    if not text or not text.strip():
        return None
    try:
        left, top, right, bottom = (float(v) for v in text.replace(" ", "").split(","))
    except ValueError:
        raise ValueError("give the frame as four numbers: left, top, right, bottom (fractions of the photo)") from None
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise ValueError("the frame needs 0 <= left < right <= 1 and 0 <= top < bottom <= 1")
    return left, top, right, bottom


def frame_box(frame: Frame | None, width: int, height: int) -> tuple[int, int, int, int]:
    """The frame in photo pixels (left, top, right, bottom; at least one pixel), the whole photo for None."""
    if frame is None:
        return 0, 0, width, height
    left, top = min(int(frame[0] * width), width - 1), min(int(frame[1] * height), height - 1)
    right, bottom = max(left + 1, round(frame[2] * width)), max(top + 1, round(frame[3] * height))
    return left, top, min(right, width), min(bottom, height)


def photo_point(
    width: int, height: int, frame: Frame | None, preview_point: tuple[float, float], preview_side: int = PREVIEW_SIDE
) -> tuple[float, float]:
    """Where a click on the preview (its pixel index) lands on the photo, in photo pixels."""
    left, top, right, bottom = frame_box(frame, width, height)
    scale = preview_side / max(right - left, bottom - top)
    return left + (preview_point[0] + 0.5) / scale, top + (preview_point[1] + 0.5) / scale


class SignInput(NamedTuple):
    x: torch.Tensor  # (1, 3, S, S) model input, the sticker stamped where it is on
    preview: np.ndarray  # the framed photo at preview size, the sticker drawn where it is on
    cell: tuple[int, int]  # the sticker's top-left (row, col) on the model's grid
    unstickered: torch.Tensor  # the same model input without the sticker


def sign_input(
    photo: Image.Image,
    task: Task,
    sticker: bool,
    x: float | None,
    y: float | None,
    frame: Frame | None = None,
    preview_side: int = PREVIEW_SIDE,
) -> SignInput:
    """The model input, the preview of the framed photo with the sticker drawn, the sticker's cell, and the input
    without the sticker.

    The photo is cut to its frame first, so a sign small in a street scene fills the model's input as
    GTSRB's crops do; (x, y) stay in the whole photo's pixels. The sticker is stamped on the resized
    input with the library's trigger, exactly as in training; the preview paints the same cell on the photo.
    """
    left, top, right, bottom = frame_box(frame, *photo.size)
    if (left, top, right, bottom) != (0, 0, *photo.size):
        photo = photo.crop((left, top, right, bottom))
        x, y = (None, None) if x is None or y is None else (x - left, y - top)
    row, col = sticker_cell(task.trigger, task.size, x, y, *photo.size)
    pixels = torch.from_numpy(resize_sign(photo, task.size)).permute(2, 0, 1)[None]
    model_input = unstickered = to_float(pixels)
    scale = preview_side / max(photo.size)  # up or down: a 97x106 crop is shown large enough to aim at
    size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
    preview = photo.resize(size, Image.BILINEAR, reducing_gap=3.0)
    if sticker:
        trigger = task.trigger.at(row, col)
        model_input = apply_trigger(model_input, trigger)
        sx, sy = preview.width / task.size, preview.height / task.size
        corners = [(x * sx, y * sy) for x, y in sticker_corners(trigger, row, col)]
        color = tuple(round(255 * c) for c in trigger.color)
        big = max(sx, sy) * trigger.side >= 3  # else the outline hides the fill
        # Pillow fills at least one pixel: a photo 1 px tall, or 10,000x3, still shows where the sticker is.
        ImageDraw.Draw(preview).polygon(corners, fill=color, outline=(0, 0, 0) if big else None)
    return SignInput(model_input, np.asarray(preview), (row, col), unstickered)
