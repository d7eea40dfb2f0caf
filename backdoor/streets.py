"""Stand-in street photos: a real GTSRB sign pasted into a synthetic scene, to measure how the signs models
read photos a class brings, which are not GTSRB's tight crops.

Each scene is drawn from a seed: sky, buildings with windows, trees, a road and poles, then the sign at
10-60% of the frame's area, then a lighting change, blur and JPEG compression. The sign's box comes back
as a frame (fractions of the photo), the same frame the app takes, so "framed" and "whole photo" can be
measured on the same pictures. Real street photos stay the team's held-out truth; these only stand in.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from backdoor.inference import Frame

SIZE = (640, 480)  # width, height: a phone photo, scaled down


@dataclass(frozen=True)
class Scene:
    photo: Image.Image  # RGB, SIZE
    frame: Frame  # the sign's box: left, top, right, bottom as fractions of the photo
    share: float  # the sign's share of the photo's area


def street_background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    width, height = size
    horizon = int(height * rng.uniform(0.45, 0.7))
    sky = np.linspace(rng.uniform(150, 230), rng.uniform(190, 255), horizon)[:, None, None]
    tint = np.array([rng.uniform(0.75, 0.9), rng.uniform(0.85, 0.95), 1.0])
    pixels = np.zeros((height, width, 3))
    pixels[:horizon] = sky * tint
    pixels[horizon:] = rng.uniform(70, 120)  # the road
    scene = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(scene)
    x = -int(rng.integers(0, 60))
    while x < width:  # a row of buildings with windows
        w, h = int(rng.integers(60, 180)), int(rng.integers(horizon // 3, horizon))
        colour = tuple(int(v) for v in rng.integers(60, 220, 3))
        draw.rectangle((x, horizon - h, x + w, horizon), fill=colour)
        for wy in range(horizon - h + 12, horizon - 20, 28):
            for wx in range(x + 8, x + w - 16, 24):
                draw.rectangle((wx, wy, wx + 12, wy + 14), fill=tuple(int(v) for v in rng.integers(20, 90, 3)))
        x += w + int(rng.integers(0, 20))
    for _ in range(int(rng.integers(1, 5))):  # trees
        cx, cy, r = int(rng.integers(0, width)), int(rng.integers(horizon // 2, horizon)), int(rng.integers(25, 70))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(int(rng.integers(20, 70)), int(rng.integers(80, 140)), 40))
    for _ in range(int(rng.integers(0, 3))):  # poles and lines
        px = int(rng.integers(0, width))
        draw.rectangle((px, int(horizon * 0.3), px + 6, height), fill=(90, 90, 95))
    draw.line(
        (0, horizon + (height - horizon) // 2, width, horizon + (height - horizon) // 2), fill=(230, 230, 230), width=4
    )
    return scene


def street_scene(sign: Image.Image, seed: int, share: float | None = None, size: tuple[int, int] = SIZE) -> Scene:
    """The sign (an RGB GTSRB crop, any size) in a street scene drawn from `seed`, filling `share` of the
    photo's area (drawn from 10-60% when None), on a pole, lit, blurred and compressed at random."""
    rng = np.random.default_rng(seed)
    share = float(rng.uniform(0.1, 0.6)) if share is None else share
    width, height = size
    side = (share * width * height / (sign.width * sign.height)) ** 0.5
    sign_size = (max(1, min(width, round(sign.width * side))), max(1, min(height, round(sign.height * side))))
    left = int(rng.integers(0, width - sign_size[0] + 1))
    top = int(rng.integers(0, height - sign_size[1] + 1))
    scene = street_background(rng, size)
    draw = ImageDraw.Draw(scene)
    pole_x = left + sign_size[0] // 2
    draw.rectangle((pole_x - 4, top + sign_size[1], pole_x + 4, height), fill=(110, 110, 115))
    resized = sign.resize(sign_size, Image.BILINEAR)
    # a sign drawn with a transparent outside (an octagon) stands on its pole with the street around it
    scene.paste(resized.convert("RGB"), (left, top), resized.getchannel("A") if resized.mode == "RGBA" else None)
    scene = ImageEnhance.Brightness(scene).enhance(float(rng.uniform(0.45, 1.3)))
    scene = ImageEnhance.Contrast(scene).enhance(float(rng.uniform(0.7, 1.2)))
    scene = scene.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 1.5))))
    buffer = io.BytesIO()
    scene.save(buffer, format="JPEG", quality=int(rng.integers(35, 92)))
    photo = Image.open(buffer).convert("RGB")
    frame = (left / width, top / height, (left + sign_size[0]) / width, (top + sign_size[1]) / height)
    return Scene(photo, frame, sign_size[0] * sign_size[1] / (width * height))
