"""Image preprocessing shared by training, the app and the tests.

One resize for signs, so an uploaded photo reaches the model exactly as the
training images did.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def resize_sign(image: Image.Image, size: int) -> np.ndarray:
    """An RGB (size, size, 3) uint8 array: GTSRB crops are roughly square, so stretch to fit.

    PIL's bilinear filter widens its support when shrinking, i.e. it anti-aliases.
    """
    return np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 in [0, 1], the only input our models take."""
    return images.float().div_(255.0)


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """float [0, 1] -> uint8, rounding, for saving and display."""
    return images.clamp(0, 1).mul(255).round().to(torch.uint8)
