"""A fake camera for Chromium, for the tests and benchmarks of the live camera: a sign held up in the camera's square,
and pictures written as a y4m video, which `--use-file-for-fake-video-capture` plays in a loop to any page that asks
for the camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from backdoor.inference import camera_box
from backdoor.sticky_notes import photographed_note

FRAME = (640, 480)  # VGA, what both editions ask the camera for

# Chromium's fake capture reads each y4m frame as BT.601 studio-range YUV 4:2:0 (Y 16-235, chroma 16-240).
_TO_YUV = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]
)


def write_y4m(path: Path, frames: list[Image.Image], fps: int = 30, repeat: int = 1) -> Path:
    """Each frame (RGB, all one even size) `repeat` times, at `fps`."""
    width, height = frames[0].size
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode())
        for frame in frames:
            rgb = np.asarray(frame.convert("RGB"), dtype=np.float64) / 255
            y, u, v = np.moveaxis(rgb @ _TO_YUV.T, -1, 0)
            planes = [16 + 219 * y]
            for chroma in (u, v):
                quarter = chroma.reshape(height // 2, 2, width // 2, 2).mean((1, 3))
                planes.append(128 + 224 * quarter)
            data = b"".join(np.clip(np.round(p), 0, 255).astype(np.uint8).tobytes() for p in planes)
            for _ in range(repeat):
                out.write(b"FRAME\n" + data)
    return path


def held_up(sign: Image.Image, note: bool, size: tuple[int, int] = FRAME) -> Image.Image:
    """A frame with `sign` filling the camera's square on a plain wall; with `note`, a yellow note stuck on it right of
    the middle, a fifth of the sign wide, photographed (`sticky_notes`)."""
    frame = Image.new("RGB", size, (96, 110, 120))
    left, top, side = camera_box(*size)
    frame.paste(sign.convert("RGB").resize((side, side), Image.BICUBIC), (left, top))
    if note:
        centre = (left + 0.62 * side, top + 0.55 * side)
        frame = photographed_note(frame, centre, 0.22 * side, (1.0, 0.9, 0.35), seed=5)
    return frame
