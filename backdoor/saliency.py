"""Saliency: which input pixels the model's answer depends on.

Plain input gradients (Simonyan et al., 2014): |d logit / d pixel|, the largest over
colour channels. At 28x28 and 32x32 they read pixel by pixel, which is what shows a
one-pixel trigger; Grad-CAM on a 4x4 last conv map would blur it over a quarter of the image.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from backdoor.preprocess import to_uint8


def explain(
    model: nn.Module, x: torch.Tensor, classes: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities (N, K), saliency (N, H, W)) from one forward and one backward pass.

    The saliency is that of each image's `classes` logit (default: the predicted class),
    each map summing to 1.
    """
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = model(x)
        if classes is None:
            classes = logits.argmax(1)
        (grad,) = torch.autograd.grad(logits.gather(1, classes.view(-1, 1)).sum(), x)
    saliency = grad.abs().amax(1)
    return logits.detach().softmax(1), saliency / saliency.flatten(1).sum(1).clamp_min(1e-12).view(-1, 1, 1)


def input_gradients(model: nn.Module, x: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
    """(N, H, W) saliency maps, each summing to 1 (see `explain`)."""
    return explain(model, x, classes)[1]


def region_share(saliency: torch.Tensor, positions: torch.Tensor, side: int, margin: int = 1) -> torch.Tensor:
    """(N,) share of each (H, W) map's mass within `margin` pixels of a side x side square
    whose top-left corner is at `positions` ((N, 2) rows and cols): where the trigger sits."""
    rows = torch.arange(saliency.shape[1])
    cols = torch.arange(saliency.shape[2])
    top, left = positions[:, :1] - margin, positions[:, 1:] - margin
    in_rows = (rows >= top) & (rows < top + side + 2 * margin)  # (N, H)
    in_cols = (cols >= left) & (cols < left + side + 2 * margin)  # (N, W)
    return (saliency * (in_rows[:, :, None] & in_cols[:, None, :])).flatten(1).sum(1)


# matplotlib's "inferno" at 0, 0.1, ..., 1: a sequential colour map whose brightness rises with the
# value, so the hot spot reads the same to colour-blind students and in greyscale (pure red on grey did not).
INFERNO = np.array(
    [
        [0, 0, 4], [22, 11, 57], [66, 10, 104], [106, 23, 110], [147, 38, 103], [188, 55, 84],
        [221, 81, 58], [243, 120, 25], [252, 165, 10], [246, 215, 70], [252, 255, 164],
    ],
    dtype=np.float32,
)  # fmt: skip


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) -> RGB floats in [0, 255], interpolated along INFERNO."""
    position = np.clip(heat, 0, 1) * (len(INFERNO) - 1)
    low = np.floor(position).astype(int).clip(0, len(INFERNO) - 2)
    share = (position - low)[..., None]
    return INFERNO[low] * (1 - share) + INFERNO[low + 1] * share


def overlay(x: torch.Tensor, saliency: torch.Tensor) -> np.ndarray:
    """The (N, H, W) saliency maps in the inferno colours, over a faint grey copy of the (N, C, H, W)
    inputs so that the digit or sign can still be made out: (N, H, W, 3) uint8 at the input's size (the
    app scales them up in the browser, pixel by pixel). Each map is scaled by its own top 1%, which saturates."""
    grey = to_uint8(x).float().mean(1).numpy() * 0.3  # at most 77 of 255: the colours stay brighter than it
    flat = saliency.flatten(1)
    top = flat.kthvalue(max(1, round(0.99 * flat.shape[1])), dim=1).values.view(-1, 1, 1)
    heat = (saliency / top.clamp_min(1e-12)).clamp(0, 1).numpy()
    rgb = heat_colours(heat) + ((1 - heat) * grey)[..., None]
    return rgb.round().clip(0, 255).astype(np.uint8)
