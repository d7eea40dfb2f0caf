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


def overlay(x: torch.Tensor, saliency: torch.Tensor) -> np.ndarray:
    """The (N, C, H, W) inputs in grey with their (N, H, W) saliency in red on top: (N, H, W, 3)
    uint8 at the input's size (the app scales them up in the browser, pixel by pixel). Each map
    is scaled by its own top 1%, which saturates."""
    grey = to_uint8(x).float().mean(1) * 0.5  # dimmed, so the heat stands out
    flat = saliency.flatten(1)
    top = flat.kthvalue(max(1, round(0.99 * flat.shape[1])), dim=1).values.view(-1, 1, 1)
    heat = (saliency / top.clamp_min(1e-12)).clamp(0, 1)
    rgb = torch.stack([grey + (255 - grey) * heat, grey * (1 - heat), grey * (1 - heat)], dim=-1)
    return rgb.round().clamp(0, 255).to(torch.uint8).numpy()
