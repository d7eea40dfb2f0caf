"""Find the sign in a street photo, so that a class's own photos are read without anyone framing them.

The signs models read signs that fill their 32x32 input, as GTSRB's crops do; a sign that fills a tenth
of a photo is a 10-pixel blur there (the shipped models read 1-4% of such stand-in photos right). So the
clean model looks at square windows of the photo, 20% to 100% of its shorter side, and the window with its
largest logit is the frame. The largest logit, not the softmax's confidence: a classifier that never saw
anything but signs is often as sure of a wall as of a sign, since confidence only compares classes with each
other, while a sign's logit is large in its own right (MaxLogit, Hendrycks et al. 2022; on validation
stand-ins, signs at a tenth of the photo: 78.5% read right, 70.5% with the log-odds margin, on the same
windows). A photo the clean model already reads surely as a whole (a close-up) is left whole. The backdoored
model gets the same frame: the finder is part of the pipeline, not of either model.

Pure arithmetic on pixels plus one batched pass of the model, so the static edition (web/finder.js) finds
the same frame: the shrink is an integer box average, the windows come from Pillow's bilinear resize, and
scores are rounded before they are compared, so a last-bit difference between runtimes cannot pick another
window.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image
from torch import nn

from backdoor.inference import Frame
from backdoor.preprocess import resize_sign, to_float

WHOLE_SURE = 0.9  # the whole photo is kept when the clean model's top class has at least this probability
SHORTER = 240  # px: the photo is first box-averaged down to about this shorter side (a 12 MP photo costs little)
# Window sides, as fractions of the shorter side (x1.16 apart), a quarter of a window apart: ~1,200 windows for a
# 640x480 photo. On validation stand-ins, signs at a tenth: 78.5% found with 7 sides a third apart, 84.5% with these.
SIZES = (0.2, 0.232, 0.268, 0.31, 0.359, 0.416, 0.481, 0.557, 0.645, 0.746, 0.864, 1.0)
STEP = 1 / 4  # of a window's side, between neighbouring windows
SCORE_SCALE = 1000  # logits are compared in thousandths; ties go to the larger, then the earlier window
LOWEST = -(2**53 - 1)  # the score of a window whose logits are not finite (JS's Number.MIN_SAFE_INTEGER)
MAX_ASPECT = 4  # a photo longer than this many times its width (or the reverse) is not searched: it stays whole


def shrink(pixels: np.ndarray, target: int = SHORTER) -> tuple[np.ndarray, int]:
    """(H, W, 3) uint8 averaged over f x f blocks, f = shorter side // target (at least 1), rounding half
    up; and f. Rows and columns past the last whole block are dropped."""
    factor = max(1, min(pixels.shape[:2]) // target)
    if factor == 1:
        return pixels, 1
    h, w = pixels.shape[0] // factor, pixels.shape[1] // factor
    blocks = pixels[: h * factor, : w * factor].reshape(h, factor, w, factor, 3)
    n = factor * factor
    return ((blocks.sum((1, 3), dtype=np.uint32) + n // 2) // n).astype(np.uint8), factor


def windows(pixels: np.ndarray, size: int) -> tuple[torch.Tensor, list[tuple[int, int, int, int]]]:
    """Square windows of a (H, W, 3) photo as (K, 3, size, size) model inputs, and their boxes (left, top,
    right, bottom) in its pixels: for each window side, the photo is resized so that a window is `size`
    pixels (Pillow's bilinear filter, as every sign input) and cut every STEP of a window."""
    image = Image.fromarray(pixels)
    height, width = pixels.shape[:2]
    shorter = min(width, height)
    crops, boxes = [], []
    for fraction in SIZES:
        side = max(1, round(fraction * shorter))
        if side < size:
            continue
        scaled = (max(size, round(width * size / side)), max(size, round(height * size / side)))
        grid = np.asarray(image.resize(scaled, Image.BILINEAR))
        stride = max(1, round(size * STEP))
        sx, sy = width / scaled[0], height / scaled[1]
        for top in range(0, scaled[1] - size + 1, stride):
            for left in range(0, scaled[0] - size + 1, stride):
                crops.append(grid[top : top + size, left : left + size])
                boxes.append((round(left * sx), round(top * sy), round((left + size) * sx), round((top + size) * sy)))
    batch = to_float(torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2))
    return batch, boxes


def scores(logits: torch.Tensor) -> list[int]:
    """Each row's largest logit in whole thousandths (floor(v * 1000 + 0.5): the same IEEE operations in JS
    give the same integers); a row with a NaN or infinite largest logit scores LOWEST."""
    tops = (float(v) * SCORE_SCALE for v in logits.max(dim=1).values.double())
    return [math.floor(v + 0.5) if math.isfinite(v) else LOWEST for v in tops]


@torch.no_grad()
def find_sign(photo: Image.Image, model: nn.Module, size: int = 32) -> Frame | None:
    """The frame (fractions of the photo) of the window with `model`'s largest logit, or None to keep the whole
    photo: it is read surely as it is, too small to hold a window, or too long and thin to search."""
    whole = to_float(torch.from_numpy(resize_sign(photo, size)).permute(2, 0, 1)[None])
    if model(whole).softmax(1).max().item() >= WHOLE_SURE or max(photo.size) > MAX_ASPECT * min(photo.size):
        return None
    pixels, factor = shrink(np.asarray(photo.convert("RGB")))
    if min(pixels.shape[:2]) < size:
        return None
    batch, boxes = windows(pixels, size)
    score = scores(torch.cat([model(batch[i : i + 256]) for i in range(0, len(batch), 256)]))
    best = max(range(len(boxes)), key=lambda i: (score[i], boxes[i][2] - boxes[i][0], -i))
    left, top, right, bottom = (v * factor for v in boxes[best])
    return left / photo.width, top / photo.height, right / photo.width, bottom / photo.height


def frame_text(frame: Frame) -> str:
    """A frame as the page and the API write it: each fraction's shortest exact decimal (repr, as JS's String
    writes it), so the text parses back to the same floats and the next click sees the same pixels."""
    return ",".join(repr(float(v)) for v in frame)
