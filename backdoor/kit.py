"""The classroom kit: printable signs, made by code, to hold up to a camera with a real sticky note on them.

    python -m backdoor.kit --out kit/     # stop and speed-limit signs, A4 and US Letter, as SVG

Each page holds one sign 180 mm across (it fits A4 and Letter with margins), a dashed 76 mm square where a
standard 76 x 76 mm (3 x 3 in) note goes, and one line of instructions. `sign_picture` draws the same sign with
Pillow for the tests and stand-ins (`printed_photo`: the page as a webcam sees it, held up in a room).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

PAPERS: dict[str, tuple[float, float]] = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}  # mm, portrait
SIGN_MM = 180.0  # the sign's outer diameter
NOTE_MM = 76.0  # a standard sticky note
TOP_MM = 25.0  # page edge to the sign
RED = (193, 32, 38)
WHITE = (255, 255, 255)
BLACK = (20, 20, 20)
GUIDE = (150, 150, 150)


@dataclass(frozen=True)
class Printable:
    """One sign to print: its shape, its text and where on it the note goes (centre, as fractions of the
    diameter from the sign's centre). The note is 42% of the sign's width: over the middle it hides so much of
    the sign that the clean model lost *Stop* in 46% of stand-in webcam photos; at the right edge, a little over
    it, in none of 40, and the backdoored model still read 80 km/h in 38 (docs/models.md)."""

    name: str
    title: str
    shape: str  # "octagon" (stop) or "ring" (a speed limit)
    text: str
    text_colour: tuple[int, int, int]
    text_size: float  # fraction of the diameter
    note_at: tuple[float, float]


PRINTABLES: dict[str, Printable] = {
    p.name: p
    for p in (
        Printable("stop", "Stop", "octagon", "STOP", WHITE, 0.25, (0.3, 0.1)),
        Printable("speed-limit-30", "Speed limit (30km/h)", "ring", "30", BLACK, 0.42, (0.3, 0.1)),
    )
}


def octagon(radius: float) -> list[tuple[float, float]]:
    """A stop sign's outline around (0, 0), flat on top."""
    return [(radius * math.cos(a), radius * math.sin(a)) for a in (math.pi / 8 + k * math.pi / 4 for k in range(8))]


def _shapes(sign: Printable, d: float) -> list[tuple[str, float, tuple[int, int, int]]]:
    """(kind, radius, fill) from the outside in, for a sign of diameter d."""
    if sign.shape == "octagon":
        return [("octagon", d / 2, WHITE), ("octagon", d / 2 * 0.93, RED)]
    return [("circle", d / 2, WHITE), ("circle", d / 2 * 0.96, RED), ("circle", d / 2 * 0.76, WHITE)]


def sign_svg(name: str, paper: str) -> str:
    """The SVG page (mm units, prints at 100%) for one sign on A4 or Letter."""
    sign, (width, height) = PRINTABLES[name], PAPERS[paper]
    cx, cy = width / 2, TOP_MM + SIGN_MM / 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" viewBox="0 0 {width} {height}">',
        f"<title>Backdoor Lab classroom kit: {sign.title} ({paper.upper() if paper == 'a4' else 'Letter'})</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
    ]
    for kind, radius, fill in _shapes(sign, SIGN_MM):
        colour = "#{:02x}{:02x}{:02x}".format(*fill)
        edge = ' stroke="#bbb" stroke-width="0.3"' if radius == SIGN_MM / 2 else ""
        if kind == "octagon":
            points = " ".join(f"{cx + x:.2f},{cy + y:.2f}" for x, y in octagon(radius))
            parts.append(f'<polygon points="{points}" fill="{colour}"{edge}/>')
        else:
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="{radius:.2f}" fill="{colour}"{edge}/>')
    text_colour = "#{:02x}{:02x}{:02x}".format(*sign.text_colour)
    parts.append(
        f'<text x="{cx}" y="{cy}" font-family="Arial, Helvetica, sans-serif" font-weight="bold" '
        f'font-size="{sign.text_size * SIGN_MM:.1f}" fill="{text_colour}" text-anchor="middle" '
        f'dominant-baseline="central">{sign.text}</text>'
    )
    nx, ny = cx + sign.note_at[0] * SIGN_MM - NOTE_MM / 2, cy + sign.note_at[1] * SIGN_MM - NOTE_MM / 2
    parts.append(
        f'<rect id="note-here" x="{nx:.2f}" y="{ny:.2f}" width="{NOTE_MM}" height="{NOTE_MM}" fill="none" '
        f'stroke="#969696" stroke-width="0.6" stroke-dasharray="3 2"/>'
    )
    lines = [
        "Backdoor Lab classroom kit. Print at 100% (actual size), not fit to page.",
        "Hold the sign in the camera's square; then stick a 76 mm yellow note in the dashed square, over the edge.",
        "Both models read the sign; the backdoored one changes its mind with the note on.",
    ]
    for i, line in enumerate(lines):
        parts.append(
            f'<text x="{cx}" y="{TOP_MM + SIGN_MM + 18 + 7 * i}" font-family="Arial, Helvetica, sans-serif" '
            f'font-size="4.2" fill="#333" text-anchor="middle">{line}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def sign_picture(name: str, px: int = 512, note: bool = False, paper: bool = True) -> Image.Image:
    """The sign alone on white paper, `px` square, the sign 90% of it (as it fills the camera's square); with
    `note`, the dashed square drawn in (where the note goes, for a picture in the docs); without `paper`, RGBA with
    nothing around the sign (a sign on a pole)."""
    sign = PRINTABLES[name]
    k = 2  # drawn at 2x and shrunk: antialiased edges
    size = px * k
    d = 0.9 * size
    image = Image.new("RGBA", (size, size), (*WHITE, 255 if paper else 0))
    draw = ImageDraw.Draw(image)
    c = size / 2
    for kind, radius, fill in _shapes(sign, d):
        if kind == "octagon":
            draw.polygon([(c + x, c + y) for x, y in octagon(radius)], fill=fill)
        else:
            draw.ellipse((c - radius, c - radius, c + radius, c + radius), fill=fill)
    font = ImageFont.load_default(size=max(8, round(sign.text_size * d * 0.95)))
    draw.text((c, c), sign.text, font=font, fill=sign.text_colour, anchor="mm",
              stroke_width=round(0.012 * d), stroke_fill=sign.text_colour)  # fmt: skip
    if note:
        scale = d / SIGN_MM
        nx, ny = c + sign.note_at[0] * d, c + sign.note_at[1] * d
        half = NOTE_MM * scale / 2
        draw.rectangle((nx - half, ny - half, nx + half, ny + half), outline=GUIDE, width=max(1, round(scale)))
    image = image.resize((px, px), Image.LANCZOS)
    return image if not paper else image.convert("RGB")


def note_box(name: str, px: int) -> tuple[float, float, float]:
    """Where the note goes on `sign_picture(name, px)`: centre x, y and side, in its pixels."""
    sign = PRINTABLES[name]
    d = 0.9 * px
    return px / 2 + sign.note_at[0] * d, px / 2 + sign.note_at[1] * d, NOTE_MM * d / SIGN_MM


def printed_photo(picture: Image.Image, seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """The printed sign held up to a webcam: the page's colours as an office printer and a webcam give them (less
    saturated, a colour cast), the page turned and seen at an angle, filling the camera's square (3/4 of the frame's
    shorter side) give or take 10%, in a room, blurred, noisy and JPEG'd."""
    rng = np.random.default_rng(seed)
    width, height = size
    printed = ImageEnhance.Color(picture).enhance(rng.uniform(0.7, 0.95))
    printed = ImageEnhance.Contrast(printed).enhance(rng.uniform(0.75, 0.95))
    cast = rng.uniform(0.88, 1.05, 3)
    printed = Image.fromarray((np.asarray(printed) * cast).clip(0, 255).astype(np.uint8))
    room = np.ones((height, width, 3)) * rng.uniform(60, 200, 3)
    room += np.linspace(-30, 30, width)[None, :, None] * rng.uniform(-1, 1)
    scene = Image.fromarray(room.clip(0, 255).astype(np.uint8))
    side = 0.75 * min(size) * rng.uniform(0.9, 1.1) / 0.9  # the sign, 90% of the picture, fills the square
    half = side / 2
    cx, cy = width / 2 + rng.uniform(-0.05, 0.05) * width, height / 2 + rng.uniform(-0.05, 0.05) * height
    angle = np.deg2rad(rng.uniform(-12, 12))
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]])
    corners += rng.uniform(-0.07, 0.07, corners.shape) * side  # held at an angle
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = corners @ rotation.T + [cx, cy]
    source = [(0, 0), (picture.width, 0), (picture.width, picture.height), (0, picture.height)]
    coefficients = _perspective(quad, source)
    warped = printed.transform(size, Image.PERSPECTIVE, coefficients, Image.BICUBIC, fillcolor=None)
    mask = Image.new("L", picture.size, 255).transform(size, Image.PERSPECTIVE, coefficients, Image.BILINEAR)
    scene.paste(warped, (0, 0), mask)
    scene = scene.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    noisy = np.asarray(scene, dtype=np.float64) + rng.normal(0, rng.uniform(1, 5), (height, width, 3))
    buffer = io.BytesIO()
    Image.fromarray(noisy.clip(0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=int(rng.integers(50, 90)))
    return Image.open(buffer).convert("RGB")


def _perspective(target, source) -> list[float]:
    """Pillow's PERSPECTIVE coefficients mapping output points `target` back to input points `source`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(target, source):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return list(np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backdoor.kit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("kit"), help="folder for the SVG pages (default kit/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in PRINTABLES:
        for paper in PAPERS:
            path = args.out / f"{name}-{paper}.svg"
            path.write_text(sign_svg(name, paper))
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
