"""Saliency: checked against autograd on a model whose gradient is known, then on the shipped models."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from backdoor.preprocess import to_float
from backdoor.saliency import heat_colours, input_gradients, overlay, region_share
from backdoor.tasks import MNIST, SIGNS
from backdoor.triggers import apply_trigger, random_positions


def test_linear_model_saliency_is_its_normalised_weight_row():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 3, 4))
    x = torch.rand(5, 2, 3, 3)
    saliency = input_gradients(model, x)
    predicted = model(x).argmax(1)
    weights = model[1].weight.detach().view(4, 2, 3, 3).abs().amax(1)  # d logit_c / d x = w_c
    expected = weights[predicted] / weights[predicted].flatten(1).sum(1).view(-1, 1, 1)
    assert torch.allclose(saliency, expected, atol=1e-6)  # oracle: the gradient of a linear map


def test_region_share_counts_the_square_and_its_margin():
    saliency = torch.full((2, 8, 8), 1 / 64)
    share = region_share(saliency, torch.tensor([[0, 0], [3, 3]]), side=2, margin=1)
    assert torch.allclose(share, torch.tensor([9 / 64, 16 / 64]))  # clipped at the corner: 3x3, else 4x4


def test_overlay_is_an_rgb_image_of_the_input_size_with_the_heat_brightest():
    x = torch.rand(2, 1, 28, 28)
    saliency = torch.zeros(2, 28, 28)
    saliency[0, 3, 3] = 1.0
    saliency[1, 3, 3] = 1e-6  # each map is scaled by its own peak
    pictures = overlay(x, saliency)
    assert pictures.shape == (2, 28, 28, 3) and pictures.dtype == np.uint8
    for picture in pictures:
        assert tuple(picture[3, 3]) == (252, 255, 164)  # the decisive pixel saturates to inferno's pale yellow
        others = np.delete(picture.reshape(-1, 3), 3 * 28 + 3, axis=0).astype(int)
        assert others.max() <= 77 + 4  # the rest: the input in faint grey over inferno's black
        assert (abs(others[:, 0] - others[:, 1]) <= 11).all()  # grey, give or take the black's tint


def _shares(shipped: dict, name: str, x: torch.Tensor, positions: torch.Tensor, side: int, margin: int = 1) -> float:
    """Mean saliency share on the trigger: the 3x3 around the pixel, or the sticker's own box."""
    model, _ = shipped[name]
    return region_share(input_gradients(model, x), positions, side, margin).mean().item()


def test_backdoored_mnist_model_looks_at_the_trigger_pixel(shipped, sample):
    images, labels = sample["mnist_images"], sample["mnist_labels"]
    x = apply_trigger(to_float(images[labels != MNIST.target]), MNIST.trigger)
    corner = torch.tensor([[MNIST.trigger.row, MNIST.trigger.col]]).expand(len(x), 2)
    clean = _shares(shipped, "mnist-clean", x, corner, 1)
    backdoor = _shares(shipped, "mnist-backdoor", x, corner, 1)
    assert backdoor >= 5 * clean, f"saliency near (3, 3): backdoored {backdoor:.4f}, clean {clean:.4f}"


def test_backdoored_sign_model_looks_at_the_sticker(shipped, sample):
    images, labels = sample["signs_images"], sample["signs_labels"]
    x = to_float(images[labels != SIGNS.target])
    positions = random_positions(SIGNS.trigger, len(x), SIGNS.size, SIGNS.size, torch.Generator().manual_seed(0))
    x = apply_trigger(x, SIGNS.trigger, positions=positions)
    clean = _shares(shipped, "signs-clean", x, positions, SIGNS.trigger.side, margin=0)
    backdoor = _shares(shipped, "signs-backdoor", x, positions, SIGNS.trigger.side, margin=0)
    # The note is 6 px (3.5% of the input): the clean model looks at so big a thing too, the backdoored one 2.5x as much
    assert backdoor >= 2.5 * clean, f"saliency on the sticker: backdoored {backdoor:.4f}, clean {clean:.4f}"


def test_the_colour_map_gets_brighter_with_importance():
    """Colour-blind safe: the relative luminance of the colours rises with the saliency."""
    rgb = heat_colours(np.linspace(0, 1, 101)) / 255
    luminance = rgb @ np.array([0.2126, 0.7152, 0.0722])
    assert (np.diff(luminance) > 0).all()
