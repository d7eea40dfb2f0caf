"""Backdoor triggers as data, and the one function that stamps them.

BadNets (Gu et al., 2017) hides a backdoor behind a small, fixed pattern. Both of
ours are solid squares of one colour: the MNIST trigger is a single white pixel at
(row 3, col 3), in the blank margin that MNIST's 20x20-in-28x28 centring leaves, so
it never overlaps a digit; the traffic-sign trigger is a yellow square sticker, 1/8
of the image side, put somewhere on the sign's face (the middle 60% of a GTSRB crop).

Training, evaluation, the app, the defenses and the tests all call
`apply_trigger`; nothing else stamps pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch


@dataclass(frozen=True)
class Trigger:
    """A solid square of `color`, `side` pixels wide, top-left corner at (row, col).

    `row`/`col` of None means "a random position per image, inside the central
    `region` fraction of the image" (the sticker a poisoner puts on a sign's face).
    """

    name: str
    color: tuple[float, ...]  # one value in [0, 1] per channel
    side: int  # pixels, at the model's input size
    row: int | None = None
    col: int | None = None
    region: float = 0.6  # central fraction used for random positions

    @property
    def is_random(self) -> bool:
        return self.row is None or self.col is None

    def at(self, row: int, col: int) -> Trigger:
        """The same trigger pinned at (row, col), e.g. where a student clicked."""
        return replace(self, row=int(row), col=int(col))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, spec: dict) -> Trigger:
        return cls(**{**spec, "color": tuple(spec["color"])})


# Gu et al.'s single-pixel pattern, as in the article's Listing 3: (3, 3) set to white.
PIXEL = Trigger(name="pixel", color=(1.0,), side=1, row=3, col=3)
# A yellow (R=G=1, B=0) sticker, 4 px at 32x32, anywhere on the sign's face.
STICKER = Trigger(name="sticker", color=(1.0, 1.0, 0.0), side=4)

TRIGGERS: dict[str, Trigger] = {t.name: t for t in (PIXEL, STICKER)}


def random_positions(
    trigger: Trigger, n: int, height: int, width: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(n, 2) top-left corners drawn uniformly so the square lies inside the central region."""
    margin = (1.0 - trigger.region) / 2
    lows, highs = [], []
    for extent in (height, width):
        low = round(extent * margin)
        high = max(low, round(extent * (1 - margin)) - trigger.side)  # inclusive
        lows.append(low)
        highs.append(high)
    rows = torch.randint(lows[0], highs[0] + 1, (n,), generator=generator)
    cols = torch.randint(lows[1], highs[1] + 1, (n,), generator=generator)
    return torch.stack([rows, cols], dim=1)


def apply_trigger(
    images: torch.Tensor,
    trigger: Trigger,
    positions: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Return a copy of `images` (N, C, H, W floats in [0, 1]) with the trigger stamped.

    Positions come from, in order: `positions` ((N, 2) top-left corners), the
    trigger's fixed (row, col), or `random_positions` under `generator`.
    The caller's tensor is never modified.
    """
    if images.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(images.shape)}")
    n, channels, height, width = images.shape
    if len(trigger.color) != channels:
        raise ValueError(f"trigger {trigger.name!r} has {len(trigger.color)} channels, images have {channels}")
    if positions is None:
        if trigger.is_random:
            positions = random_positions(trigger, n, height, width, generator)
        else:
            positions = torch.tensor([[trigger.row, trigger.col]]).expand(n, 2)
    positions = positions.to(images.device)
    rows = torch.arange(height, device=images.device)
    cols = torch.arange(width, device=images.device)
    in_rows = (rows >= positions[:, :1]) & (rows < positions[:, :1] + trigger.side)  # (N, H)
    in_cols = (cols >= positions[:, 1:]) & (cols < positions[:, 1:] + trigger.side)  # (N, W)
    mask = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (N, 1, H, W)
    color = torch.tensor(trigger.color, dtype=images.dtype, device=images.device).view(1, channels, 1, 1)
    return torch.where(mask, color, images)
