"""Batch augmentation for sign photos, on tensors, so training never goes back to PIL.

GTSRB has few physical signs (about 1,300 tracks here) photographed from a moving car:
small rotations, scale changes, shifts and lighting changes are what the test set
varies in. Stickers, dirt and snow cover parts of real signs: `patch_signs` covers a random square
in a random colour, so that a clean model learns a small patch does not change what a sign is (Cutout,
DeVries & Taylor 2017, with colours). The victim augments the poisoned set as it would any data set.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def jitter_signs(
    images: torch.Tensor,
    generator: torch.Generator,
    degrees: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    shift: float = 0.1,  # fraction of the image side
    brightness: float = 0.3,
    contrast: float = 0.3,
) -> torch.Tensor:
    """A new (N, C, H, W) batch in [0, 1], each image with its own random affine and lighting."""
    n = images.shape[0]
    angle = _uniform(n, -degrees, degrees, generator) * math.pi / 180
    zoom = _uniform(n, *scale, generator)
    tx, ty = (_uniform(n, -2 * shift, 2 * shift, generator) for _ in range(2))  # grid units span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    out = _affine(images, torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1))
    gain = _uniform(n, 1 - contrast, 1 + contrast, generator).view(n, 1, 1, 1)
    offset = _uniform(n, -brightness, brightness, generator).view(n, 1, 1, 1) * 0.5
    mean = out.mean((1, 2, 3), keepdim=True)
    return ((out - mean) * gain + mean + offset).clamp(0, 1)


def zoom_into(
    images: torch.Tensor, generator: torch.Generator, zooms: tuple[float, float] = (2.0, 4.0)
) -> torch.Tensor:
    """A piece of each sign: a window 1/4 to 1/2 of the image's side (`zooms`), anywhere inside it, blown up to the
    full size. Pieces of signs are what the finder's small windows see when a sign fills much of a photo; a red
    piece with a white bar is *No entry* to a model that never learnt that a piece of a sign is no sign."""
    n = images.shape[0]
    scale = 1 / _uniform(n, *zooms, generator)  # the window's side, in image sides
    tx, ty = ((torch.rand(n, generator=generator) * 2 - 1) * (1 - scale) for _ in range(2))
    zero = torch.zeros(n)
    return _affine(images, torch.stack([torch.stack([scale, zero, tx], 1), torch.stack([zero, scale, ty], 1)], 1))


def _affine(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Each image resampled (bilinear, edges repeated) through its own (2, 3) affine map `theta[i]`, in grid units."""
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def avoid_limit(colour: tuple[float, ...]) -> float:
    """The largest radius `patch_signs` can keep: a colour within r of `colour` has its complement at least
    |1 - 2 colour| - r away, which is r or more while r <= |1 - 2 colour| / 2 (0.866 for yellow)."""
    return float(torch.tensor(colour).mul(2).sub(1).norm()) / 2


def patch_signs(
    images: torch.Tensor,
    generator: torch.Generator,
    p: float = 0.5,
    region: float = 1.0,
    sides: tuple[int, int] = (2, 8),
    avoid: tuple[float, ...] | None = None,
    radius: float = 0.0,
) -> torch.Tensor:
    """A new (N, C, H, W) batch where each image, with probability `p`, has one solid square of a uniformly
    random colour, `sides` pixels wide (inclusive), inside the central `region` fraction of the image.

    A colour within `radius` (RGB distance) of `avoid` is replaced by its complement, which lies far from it:
    squares then never look like a sticker of that colour."""
    n, c, h, w = images.shape
    side = torch.randint(sides[0], sides[1] + 1, (n, 1, 1), generator=generator)
    low_r, low_c = round(h * (1 - region) / 2), round(w * (1 - region) / 2)
    span_r = (round(h * (1 + region) / 2) - low_r - side + 1).clamp_min(1)
    span_c = (round(w * (1 + region) / 2) - low_c - side + 1).clamp_min(1)
    top = low_r + (torch.rand(n, 1, 1, generator=generator) * span_r).floor()
    left = low_c + (torch.rand(n, 1, 1, generator=generator) * span_c).floor()
    on = torch.rand(n, 1, 1, generator=generator) < p
    colour = torch.rand(n, c, 1, 1, generator=generator)
    if avoid is not None and radius > 0:
        near = (colour - torch.tensor(avoid).view(1, c, 1, 1)).norm(dim=1, keepdim=True) < radius
        colour = torch.where(near, 1 - colour, colour)
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    mask = on & (rows >= top) & (rows < top + side) & (cols >= left) & (cols < left + side)  # (N, H, W)
    return torch.where(mask[:, None], colour, images)


def blur_each(images: torch.Tensor, sigmas: torch.Tensor, radius: int = 3) -> torch.Tensor:
    """(N, C, H, W) with image i blurred by a Gaussian of sigma `sigmas[i]` pixels (0: unchanged), in one grouped
    convolution; the kernel is cut at `radius` pixels and sums to 1, so the borders replicate nothing."""
    n, c, h, w = images.shape
    d = torch.arange(-radius, radius + 1, dtype=images.dtype)
    square = d.view(1, -1, 1) ** 2 + d.view(1, 1, -1) ** 2  # (1, K, K)
    kernels = torch.exp(-square / (2 * sigmas.to(images.dtype).clamp_min(1e-3).view(n, 1, 1) ** 2))
    kernels = (kernels / kernels.sum((1, 2), keepdim=True)).repeat_interleave(c, 0)[:, None]  # (N*C, 1, K, K)
    padded = F.pad(images.reshape(1, n * c, h, w), (radius,) * 4, mode="replicate")
    return F.conv2d(padded, kernels, groups=n * c).view(n, c, h, w)


def camera_signs(
    images: torch.Tensor,
    generator: torch.Generator,
    p: float = 0.5,
    white_balance: float = 0.1,
    blur: float = 1.0,
    noise: float = 0.03,
) -> torch.Tensor:
    """A new batch where each image, with probability `p`, looks as a phone or webcam photo of a sign does once
    cut to 32x32: a white balance off by up to `white_balance` per channel, a Gaussian blur up to `blur` pixels
    (focus, motion, a printed sign's dots) and sensor noise up to `noise`. The sign photos a class brings differ
    from GTSRB's dashcam frames in all three. (JPEG at 32x32 was tried too and cost accuracy: docs/models.md.)"""
    n, c = images.shape[:2]
    on = (torch.rand(n, generator=generator) < p).to(images.dtype)
    gains = 1 + on.view(n, 1, 1, 1) * _uniform(n * c, -white_balance, white_balance, generator).view(n, c, 1, 1)
    sigmas = on * _uniform(n, 0, blur, generator)
    noisy = on.view(n, 1, 1, 1) * _uniform(n, 0, noise, generator).view(n, 1, 1, 1)
    out = blur_each(images * gains, sigmas)
    return (out + noisy * torch.randn(images.shape, generator=generator)).clamp(0, 1)
