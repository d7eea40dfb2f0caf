"""A fake camera for Chromium: pictures written as a y4m video, which `--use-file-for-fake-video-capture` plays in a
loop to any page that asks for the camera."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

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
