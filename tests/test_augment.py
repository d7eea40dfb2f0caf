"""Training augmentation for signs: the occlusion squares cover what the recipe says and never wear the sticker's
colour, so the victim's own augmentation does not un-teach the backdoor."""

from __future__ import annotations

import torch

from backdoor.augment import jitter_signs, patch_signs, zoom_into
from backdoor.tasks import SIGNS
from backdoor.train import RECIPES


def _squares(before: torch.Tensor, after: torch.Tensor) -> list[tuple[torch.Tensor, int]]:
    """Per changed image: the square's colour and its side (from the changed pixels' extent)."""
    found = []
    for b, a in zip(before, after):
        changed = (a != b).any(0)
        if not changed.any():
            continue
        rows, cols = changed.nonzero(as_tuple=True)
        found.append((a[:, rows[0], cols[0]], int(max(rows.max() - rows.min(), cols.max() - cols.min())) + 1))
    return found


def test_the_recipes_squares_keep_away_from_the_sticker_colour():
    recipe = RECIPES["signs"]
    images = torch.full((2000, 3, 32, 32), 0.5)
    generator = torch.Generator().manual_seed(0)
    out = patch_signs(
        images, generator, recipe.patches, recipe.patch_region, recipe.patch_sides, SIGNS.trigger.color,
        recipe.patch_avoid,
    )  # fmt: skip
    squares = _squares(images, out)
    assert abs(len(squares) / len(images) - recipe.patches) < 0.05
    yellow = torch.tensor(SIGNS.trigger.color)
    nearest = min(float((colour - yellow).norm()) for colour, _ in squares)
    assert nearest >= recipe.patch_avoid, nearest
    assert all(recipe.patch_sides[0] <= side <= recipe.patch_sides[1] for _, side in squares)


def test_without_a_radius_every_colour_comes_up():
    images = torch.full((4000, 3, 32, 32), 0.5)
    out = patch_signs(images, torch.Generator().manual_seed(0), 1.0, 1.0, (2, 8), SIGNS.trigger.color, 0.0)
    yellow = torch.tensor(SIGNS.trigger.color)
    assert min(float((colour - yellow).norm()) for colour, _ in _squares(images, out)) < 0.3


def test_augmentation_is_seeded_and_stays_in_range():
    images = torch.rand(64, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    first = patch_signs(jitter_signs(images, torch.Generator().manual_seed(2)), torch.Generator().manual_seed(3))
    again = patch_signs(jitter_signs(images, torch.Generator().manual_seed(2)), torch.Generator().manual_seed(3))
    assert torch.equal(first, again)
    assert first.shape == images.shape and first.min() >= 0 and first.max() <= 1


def test_zoom_into_blows_up_a_piece_of_each_sign():
    """Each piece is 1/4 to 1/2 of the image's side and lies inside it: on a ramp (value = column / 31), a piece spans
    between a quarter and a half of the ramp's values, within [0, 1], and pieces come from different places."""
    ramp = (torch.arange(32.0) / 31).expand(200, 3, 32, 32)
    pieces = zoom_into(ramp, torch.Generator().manual_seed(0))
    span = pieces.amax((1, 2, 3)) - pieces.amin((1, 2, 3))
    assert pieces.min() >= 0 and pieces.max() <= 1
    assert span.min() > 0.2 and span.max() < 0.52, (span.min(), span.max())
    assert span.max() - span.min() > 0.15  # zooms vary between 2x and 4x
    assert pieces.amin((1, 2, 3)).std() > 0.1  # and so do their places
