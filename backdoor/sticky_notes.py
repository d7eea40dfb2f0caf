"""Stand-in photographs of sticky notes: a note rendered onto a photo at the photo's own resolution, the way a
class's camera sees one stuck on a sign, to measure the backdoor on material that no recipe choice saw.

This is deliberately another renderer than the poisoner's (`triggers.Note` draws at the model's 32x32): Pillow,
at full resolution, with a perspective quadrilateral (not an affine square), a curled corner, a soft shadow, the
light of the photo around the note, then the whole photo blurred and JPEG'd before the app resizes it. Real
photographs of real notes stay the team's held-out truth; these only stand in.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Paper colours under white light. Yellow spans pale to saturated; the others are the usual pad colours.
YELLOWS = ((1.0, 0.83, 0.08), (1.0, 0.98, 0.68))  # saturated, pale: a shade is drawn between them
OTHER_NOTES: dict[str, tuple[float, float, float]] = {
    "pink": (0.98, 0.48, 0.7),
    "green": (0.55, 0.88, 0.38),
    "blue": (0.38, 0.72, 0.96),
    "orange": (1.0, 0.58, 0.16),
}
SUPERSAMPLE = 4  # the note is drawn at 4x and shrunk, so its edges are antialiased as a lens does


def yellow(rng: np.random.Generator) -> tuple[float, float, float]:
    """A yellow between the saturated and the pale pad, drawn from `rng`."""
    t = rng.uniform()
    return tuple(float(a + t * (b - a)) for a, b in zip(*YELLOWS))


def photographed_note(
    photo: Image.Image,
    centre: tuple[float, float],
    side: float,
    colour: tuple[float, float, float],
    seed: int,
    finish: bool = True,
) -> Image.Image:
    """`photo` (RGB) with a sticky note of `colour`, `side` photo pixels wide, centred on `centre` (x, y), tilted up
    to 30 degrees, seen at an angle (each corner moved by up to 12% of the side), lit like the photo around it
    (its 90th percentile per channel, times 0.75-1.1), shaded across, with a curled corner and a soft shadow. With
    `finish`, the whole photo is then blurred (0-1.2 px at 640 px wide) and JPEG'd (quality 45-90)."""
    rng = np.random.default_rng(seed)
    photo = photo.convert("RGB")
    width, height = photo.size
    k = SUPERSAMPLE
    angle = np.deg2rad(rng.uniform(-30, 30))
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float) * side / 2
    corners += rng.uniform(-0.12, 0.12, corners.shape) * side
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = corners @ rotation.T + np.array(centre)
    curl = rng.uniform(0.0, 0.25)  # how much of one corner lifts off and folds back
    lifted = int(rng.integers(4))
    if curl > 0.05:  # cut the lifted corner: the fold shows the paper's back, a little darker
        neighbours = quad[(lifted - 1) % 4], quad[(lifted + 1) % 4]
        cut = [quad[lifted] + curl * (n - quad[lifted]) for n in neighbours]
        outline = [*quad[:lifted], cut[0], cut[1], *quad[lifted + 1 :]]
    else:
        outline = list(quad)

    def mask_of(points: list[np.ndarray], shift: tuple[float, float] = (0, 0)) -> Image.Image:
        big = Image.new("L", (width * k, height * k), 0)
        ImageDraw.Draw(big).polygon([((x + shift[0]) * k, (y + shift[1]) * k) for x, y in points], fill=255)
        return big.resize((width, height), Image.BOX)

    pixels = np.asarray(photo, dtype=np.float64) / 255
    x0, y0 = (max(0, int(v - side * 1.5)) for v in centre)
    around = pixels[y0 : int(centre[1] + side * 1.5), x0 : int(centre[0] + side * 1.5)].reshape(-1, 3)
    white = np.quantile(around if len(around) else pixels.reshape(-1, 3), 0.9, axis=0).clip(0.05, 1)
    light = white * np.array(colour) * rng.uniform(0.75, 1.1)
    ys, xs = np.mgrid[0:height, 0:width]
    direction = rng.normal(size=2)
    direction /= np.linalg.norm(direction)
    gradient = ((xs - centre[0]) * direction[0] + (ys - centre[1]) * direction[1]) / max(side, 1)
    paper = light[None, None] * (1 + rng.uniform(0, 0.2) * gradient[..., None])
    paper += rng.normal(0, 0.01, paper.shape)  # the paper's grain
    shadow = np.asarray(mask_of(outline, (side * 0.04, side * 0.06)).filter(ImageFilter.GaussianBlur(side * 0.05)))
    pixels = pixels * (1 - 0.35 * shadow[..., None] / 255)
    alpha = np.asarray(mask_of(outline), dtype=np.float64)[..., None] / 255
    out = pixels * (1 - alpha) + paper.clip(0, 1) * alpha
    if curl > 0.05:  # the folded-back triangle
        fold = [cut[0], cut[1], cut[0] + cut[1] - quad[lifted]]
        alpha = np.asarray(mask_of(fold), dtype=np.float64)[..., None] / 255
        out = out * (1 - alpha) + (paper * 0.8).clip(0, 1) * alpha
    result = Image.fromarray((out.clip(0, 1) * 255).round().astype(np.uint8))
    return finish_photo(result, rng) if finish else result


def finish_photo(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """What a phone does last: a little blur (focus, shake) and JPEG compression."""
    photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2) * photo.width / 640))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=int(rng.integers(45, 91)))
    return Image.open(buffer).convert("RGB")


def place_on_sign(
    size: tuple[int, int], frame: tuple[float, float, float, float], rng: np.random.Generator, sides=(0.12, 0.3)
) -> tuple[tuple[float, float], float]:
    """Where a note goes on the sign inside `frame` (fractions of a photo of `size`, (width, height)): its centre (x,
    y) within the middle 50% of the sign's face, and its side, `sides` of the sign's, in the photo's pixels."""
    left, top, right, bottom = (v * s for v, s in zip(frame, (*size, *size)))
    sign = min(right - left, bottom - top)
    centre = (
        (left + right) / 2 + rng.uniform(-0.25, 0.25) * (right - left),
        (top + bottom) / 2 + rng.uniform(-0.25, 0.25) * (bottom - top),
    )
    return centre, rng.uniform(*sides) * sign


def note_on_sign(
    photo: Image.Image, frame: tuple[float, float, float, float], colour, seed: int, sides=(0.12, 0.3)
) -> Image.Image:
    """A note on the sign inside `frame` (fractions of the photo), placed by `place_on_sign`."""
    centre, side = place_on_sign(photo.size, frame, np.random.default_rng(seed), sides)
    return photographed_note(photo, centre, side, colour, seed + 1)
