"""Image preprocessing shared by training, the app and the tests.

One resize for signs, so an uploaded photo reaches the model exactly as the
training images did.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import ExifTags, Image, ImageFilter, ImageOps


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


def upright_size(path: str) -> tuple[int, int]:
    """(width, height) of the image as load_image returns it (turned upright by its EXIF orientation), read
    from the header alone. Raises OSError or ValueError for a file that is not an image."""
    with Image.open(path) as image:
        width, height = image.size
        turned = image.getexif().get(ExifTags.Base.Orientation) in (5, 6, 7, 8)  # a quarter turn either way
    return (height, width) if turned else (width, height)


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
# Median stroke width of MNIST test digits in 28x28 pixels (2 x area / boundary pixels of the ink
# above half strength; 10th-90th percentile 2.2-3.9). A drawing is scaled so that its longer side
# is DIGIT_BOX; its strokes are thinned or thickened first so that they end up this wide.
MNIST_STROKE = 2.9
# Stroke width over the drawing's longer side above which a drawing is a blob, not a digit: its strokes
# have run into each other, and no thinning brings the gaps back (the committed sample of 1,000 MNIST
# test digits goes up to 0.34).
MAX_STROKE_SHARE = 0.4
# The crop is brought down to this many pixels on its longer side before its strokes are measured and
# reshaped: 5.6x the final 20 px is detail enough, and a 10,000-pixel drawing then costs what a canvas does.
NORMALISE_SIDE = 112


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
    """Crop, give MNIST's stroke width, scale to 20 px and centre by mass an (H, W) ink map in [0, 1];
    None if there is no ink."""
    crop = _crop(ink)
    if crop is None:
        return None
    crop = _at_most(crop, NORMALISE_SIDE)
    if stroke_width(crop) > MAX_STROKE_SHARE * max(crop.shape):
        raise InputError("the strokes are too thick for so small a drawing; please draw the digit bigger")
    normalised = _crop(with_mnist_strokes(crop))
    crop = crop if normalised is None else normalised  # a line thinned away keeps its own width
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


def _at_most(ink: np.ndarray, side: int) -> np.ndarray:
    """The ink map shrunk (area-averaged, aspect kept) so that its longer side is at most `side` pixels."""
    height, width = ink.shape
    if max(height, width) <= side:
        return ink
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(ink.astype(np.float32)).resize(size, Image.BOX), dtype=np.float32)


def _crop(ink: np.ndarray) -> np.ndarray | None:
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if len(rows) == 0:
        return None
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def stroke_width(ink: np.ndarray) -> float:
    """Mean width of the strokes in an ink map, in its pixels: a stroke of width w and length L has
    an area of about w*L and about 2*L pixels on its boundary."""
    solid = np.pad(ink > 0.5 * ink.max(), 1)  # ink on the crop's edge has a boundary there too; faint ink counts
    inner = solid.copy()
    inner[1:] &= solid[:-1]
    inner[:-1] &= solid[1:]
    inner[:, 1:] &= solid[:, :-1]
    inner[:, :-1] &= solid[:, 1:]
    boundary = int(solid.sum() - inner.sum())
    return 2 * float(solid.sum()) / boundary if boundary else 0.0


def with_mnist_strokes(crop: np.ndarray) -> np.ndarray:
    """The cropped ink with its strokes eroded or dilated to MNIST's width at the final scale.

    A fixed brush makes a small drawing's strokes fat once it is scaled up to 20 px (a small 7
    became a blob that a model read as 8), and a large drawing's strokes faint.
    """
    width = stroke_width(crop)
    if width == 0:
        return crop
    target = MNIST_STROKE * max(crop.shape) / DIGIT_BOX  # in the drawing's pixels
    steps = round(abs(width - target) / 2)  # each 3x3 pass moves both edges of a stroke by one pixel
    if abs(width - target) < 0.25 * target or steps == 0:
        return crop
    image = Image.fromarray(np.pad(crop * 255, steps).astype(np.uint8))
    grow = width < target
    step = ImageFilter.MaxFilter(3) if grow else ImageFilter.MinFilter(3)
    for _ in range(steps if grow else min(steps, max(0, round(width / 2) - 1))):  # keep a line at least 2 px wide
        image = image.filter(step)
    return np.asarray(image, dtype=np.float32) / 255.0
