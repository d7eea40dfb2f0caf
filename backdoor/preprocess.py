"""Image preprocessing shared by training, the app and the tests.

One resize for signs, so an uploaded photo reaches the model exactly as the
training images did.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps


def resize_sign(image: Image.Image, size: int) -> np.ndarray:
    """An RGB (size, size, 3) uint8 array: GTSRB crops are roughly square, so stretch to fit.

    PIL's bilinear filter widens its support when shrinking, i.e. it anti-aliases.
    """
    return np.array(image.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.uint8)  # writable, for torch


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [0, 1], the only input our models take."""
    return images.float().div_(255.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [0, 1] -> uint8, rounding, for saving and display."""
    return images.clamp(0, 1).mul(255).round().to(torch.uint8)


class InputError(ValueError):
    """An input we cannot use; the message is meant for the person who gave it."""


MAX_UPLOAD_PIXELS = 40_000_000  # a 12-megapixel phone photo is fine; a decompression bomb is not


def load_image(path: str, max_pixels: int = MAX_UPLOAD_PIXELS) -> Image.Image:
    """Open an uploaded file as an upright RGB image, or raise InputError saying why not.

    The pixel count is checked from the header, before anything is decoded. Animated
    files give their first frame; transparency is composited onto white; 16-bit and
    float images are scaled to 8 bits by their own range.
    """
    too_large = f"please upload one under {max_pixels // 1_000_000} megapixels"
    try:
        opened = Image.open(path)
    except Image.DecompressionBombError as err:  # PIL's own cap, for sizes far past ours
        raise InputError(f"This image is far too large; {too_large}.") from err
    except (OSError, ValueError) as err:
        raise InputError("This file is not an image we can read (PNG, JPEG, GIF, WebP, BMP, PPM, TIFF).") from err
    with opened as image:  # closes the upload however this ends; a server must not wait for the GC
        width, height = image.size
        if width * height > max_pixels:
            raise InputError(f"This image is {width}x{height} pixels, too large; {too_large}.")
        if width < 1 or height < 1:
            raise InputError("This image has no pixels.")
        try:
            image.seek(0)
            image.load()
            return _to_rgb(ImageOps.exif_transpose(image))  # a transposed copy, or a plain copy
        except (OSError, ValueError, SyntaxError) as err:  # truncated or corrupt data
            raise InputError("This image file is damaged or truncated; please try another one.") from err


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255 if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


# MNIST's recipe (LeCun et al.): each digit was scaled to fit a 20x20 box, keeping its
# aspect ratio, then placed in 28x28 so that its centre of mass sits at the centre.
DIGIT_BOX = 20
DIGIT_SIZE = 28
INK_THRESHOLD = 0.1  # fraction of full ink below which a pixel counts as paper


def digit_from_drawing(rgba: np.ndarray) -> torch.Tensor | None:
    """A drawing (H, W, 4 RGBA uint8, dark ink) -> (1, 1, 28, 28) MNIST-like floats, or None if blank."""
    if rgba.ndim == 2:
        rgba = np.stack([rgba] * 3 + [np.full_like(rgba, 255)], axis=-1)
    if rgba.shape[-1] == 3:
        rgba = np.concatenate([rgba, np.full(rgba.shape[:2] + (1,), 255, rgba.dtype)], axis=-1)
    image = _to_rgb(Image.fromarray(rgba.astype(np.uint8))).convert("L")
    ink = 1.0 - np.asarray(image, dtype=np.float32) / 255.0  # white-on-black, like MNIST
    return digit_from_ink(ink)


def digit_from_ink(ink: np.ndarray) -> torch.Tensor | None:
    """Crop, scale to 20 px and centre by mass an (H, W) ink map in [0, 1]; None if there is no ink."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if len(rows) == 0:
        return None
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    box = np.asarray(Image.fromarray(crop * 255).convert("F").resize(new_size, Image.LANCZOS)) / 255.0
    box = np.clip(box, 0.0, 1.0)
    total = box.sum()
    if total <= 0:
        return None
    grid_r, grid_c = np.indices(box.shape)
    com_r, com_c = (grid_r * box).sum() / total, (grid_c * box).sum() / total
    top = round(DIGIT_SIZE / 2 - 0.5 - com_r)
    left = round(DIGIT_SIZE / 2 - 0.5 - com_c)
    top = min(max(top, 0), DIGIT_SIZE - box.shape[0])  # keep the whole digit on the canvas
    left = min(max(left, 0), DIGIT_SIZE - box.shape[1])
    out = np.zeros((DIGIT_SIZE, DIGIT_SIZE), dtype=np.float32)
    out[top : top + box.shape[0], left : left + box.shape[1]] = box
    return torch.from_numpy(out).view(1, 1, DIGIT_SIZE, DIGIT_SIZE)
