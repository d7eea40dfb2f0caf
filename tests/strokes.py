"""Digits drawn as a student draws them: a few straight strokes of a round brush, at any size and width.

A stand-in for the teacher's own drawings: each digit is a polyline in a unit box, drawn on the
280x280 canvas with a brush of 6 to 30 px, the drawing's side 15% to 100% of the canvas.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

CANVAS = 280
STROKES: dict[int, list[tuple[float, float]]] = {  # (x, y) in a unit box, one stroke per digit
    0: [(0.5, 0), (0.9, 0.2), (1, 0.5), (0.9, 0.8), (0.5, 1), (0.1, 0.8), (0, 0.5), (0.1, 0.2), (0.5, 0)],
    1: [(0.3, 0.2), (0.55, 0), (0.55, 1)],
    2: [(0.05, 0.25), (0.3, 0.02), (0.7, 0.02), (0.95, 0.25), (0.85, 0.5), (0.05, 1), (1, 1)],
    3: [(0.05, 0.1), (0.5, 0), (0.9, 0.15), (0.9, 0.35), (0.45, 0.5), (0.95, 0.65), (0.95, 0.85), (0.5, 1), (0.05, 0.9)],
    4: [(0.7, 1), (0.7, 0), (0, 0.7), (1, 0.7)],
    5: [(0.95, 0), (0.15, 0), (0.1, 0.45), (0.6, 0.4), (0.95, 0.6), (0.9, 0.9), (0.5, 1), (0.05, 0.9)],
    6: [(0.85, 0.05), (0.45, 0), (0.1, 0.35), (0.05, 0.7), (0.3, 1), (0.75, 0.95), (0.9, 0.7), (0.6, 0.5), (0.2, 0.6)],
    7: [(0, 0), (1, 0), (0.4, 1)],
    8: [(0.5, 0.5), (0.1, 0.3), (0.2, 0.05), (0.5, 0), (0.8, 0.05), (0.9, 0.3), (0.5, 0.5), (0.05, 0.75),
        (0.2, 0.97), (0.5, 1), (0.8, 0.97), (0.95, 0.75), (0.5, 0.5)],
    9: [(0.85, 0.4), (0.5, 0.55), (0.1, 0.4), (0.15, 0.1), (0.5, 0), (0.85, 0.15), (0.85, 0.4), (0.75, 1)],
}  # fmt: skip


def stroke_points(
    digit: int, side: float, brush: int, corner: tuple[float, float] = (5, 5)
) -> list[tuple[float, float]]:
    """The digit's stroke in canvas pixels, drawn `side` px tall (brush included) from `corner`."""
    height = side - brush
    width = 0.65 * height
    left, top = corner[0] + brush / 2 + (height - width) / 2, corner[1] + brush / 2
    return [(left + x * width, top + y * height) for x, y in STROKES[digit]]


def drawn_digit(digit: int, side: float, brush: int) -> np.ndarray:
    """(280, 280, 4) RGBA: black strokes on a transparent canvas, as the Sketchpad sends them."""
    image = Image.new("RGBA", (CANVAS, CANVAS), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    points = stroke_points(digit, side, brush)
    draw.line(points, fill=(0, 0, 0, 255), width=brush, joint="curve")
    for x, y in points:  # round ends, as a brush leaves them
        draw.ellipse([x - brush / 2, y - brush / 2, x + brush / 2, y + brush / 2], fill=(0, 0, 0, 255))
    return np.asarray(image)
