"""Attacks as data: each trigger is a registered spec, and one function stamps any of them.

Four kinds, each a frozen dataclass registered by name (STYLE #15):

- **Patch** (BadNets, Gu et al. 2017): a solid square of one colour. The MNIST trigger is a single white pixel
  at (row 3, col 3), in the blank margin that MNIST's 20x20-in-28x28 centring leaves, so it never overlaps a
  digit.
- **Note** (Li et al. 2021, physical backdoors): the traffic-sign trigger, a photographed yellow sticky note,
  each poisoned image's its own size, turn, shade and light; the app's click places one presented note.
- **Blend** (Chen et al. 2017, "Targeted backdoor attacks ... using data poisoning"): a fixed random pattern
  mixed into the whole image at a low weight, x' = (1 - w) x + w p. At w = 0.1 it is hard to see.
- **Warp** (WaNet, Nguyen & Tran, ICLR 2021): a fixed, smooth, seeded flow field resamples the image; nothing
  is added, pixels move by about two (WaNet's MNIST strength 0.5 moves them an eighth as far, which our 8-epoch
  recipe did not learn: docs/models.md). Besides WaNet's noise mode, small random affine maps with true labels
  (`decoy_ratio`) keep any resampling of a digit from reading as the trigger. WaNet's *noise mode* also adds images warped by the field plus
  per-pixel noise, with their true labels, so the model learns that exact warp and not "any warp".

A task and a checkpoint's card *name* their attack (`ATTACKS[name]`); a card stores the spec too
(`to_dict`), so a loader rebuilds it with `trigger_from_dict`. Training, evaluation, the app, the defenses and
the tests all call `apply_trigger`; nothing else stamps pixels. The static page's `applyTrigger` reads the same
spec, with the pattern or the flow field written out (`web_spec`), from lab.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F

from backdoor.augment import blur_each

KINDS: dict[str, type[Trigger]] = {}  # kind -> spec class, filled by @register_kind
ATTACKS: dict[str, Trigger] = {}  # name -> spec, filled by register()


def register_kind(cls: type[Trigger]) -> type[Trigger]:
    KINDS[cls.kind] = cls
    return cls


def register(trigger: Trigger) -> Trigger:
    if trigger.name in ATTACKS:
        raise ValueError(f"attack {trigger.name!r} is registered twice")
    ATTACKS[trigger.name] = trigger
    return trigger


def trigger_from_dict(spec: dict) -> Trigger:
    """The spec a card stored (`to_dict`); cards written before the registry have no kind: a patch."""
    kind = spec.get("kind", "patch")
    if kind not in KINDS:
        raise ValueError(f"unknown attack kind {kind!r}; known: {', '.join(KINDS)}")
    return KINDS[kind].from_dict({k: v for k, v in spec.items() if k != "kind"})


@dataclass(frozen=True)
class Trigger:
    """What every attack spec has: a name, the channel count it applies to, and how to stamp a batch."""

    kind: ClassVar[str] = ""
    name: str
    channels: int = 1
    # WaNet's noise mode: per poisoned image, this many noise-warped images keep their true label (0: none)
    cross_ratio: float = 0.0

    @property
    def visible(self) -> bool:
        """Whether the trigger sits in a box a view can outline (a patch); else it spreads over the image."""
        return False

    @property
    def cover_ratio(self) -> float:
        """Images, per poisoned one, that `stamp_noise` alters while their labels stay (0: none)."""
        return self.cross_ratio

    def box(self) -> tuple[int, int, int] | None:
        """(row, col, side) of the square to outline in a view, or None where there is no square."""
        return None

    def stamp(self, images: torch.Tensor, positions: torch.Tensor | None, generator: torch.Generator | None):
        raise NotImplementedError

    def stamp_noise(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """WaNet's noise-mode images (labels kept); only kinds with cross_ratio > 0 make them."""
        raise NotImplementedError(f"{self.kind} has no noise mode")

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self)}

    def web_spec(self) -> dict:
        """What the static page's applyTrigger needs: the spec, with any seeded array written out."""
        return self.to_dict()

    @classmethod
    def from_dict(cls, spec: dict) -> Trigger:
        return cls(**spec)


@dataclass(frozen=True)
class Placed(Trigger):
    """What a trigger a student places has: a colour, a side in pixels, and a place, the top-left (row, col) of its
    box, or None for "a random place per image, inside the central `region` fraction of the image"."""

    color: tuple[float, ...] = (1.0,)  # one value in [0, 1] per channel
    side: int = 1  # pixels, at the model's input size
    row: int | None = None
    col: int | None = None
    region: float = 0.6  # central fraction used for random positions

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", len(self.color))

    @property
    def visible(self) -> bool:
        return True

    @property
    def is_random(self) -> bool:
        return self.row is None or self.col is None

    def at(self, row: int, col: int) -> Placed:
        """The same trigger pinned at (row, col), e.g. where a student clicked."""
        return replace(self, row=int(row), col=int(col))

    def box(self) -> tuple[int, int, int] | None:
        return None if self.is_random else (self.row, self.col, self.side)

    def to_dict(self) -> dict:
        spec = super().to_dict()
        spec.pop("channels")  # the colour says it
        spec.pop("cross_ratio")
        return spec

    @classmethod
    def from_dict(cls, spec: dict) -> Placed:
        drop = ("channels", "cross_ratio")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items() if k not in drop})


@register_kind
@dataclass(frozen=True)
class Patch(Placed):
    """A solid square of `color`, `side` pixels wide, top-left corner at (row, col), or at random places (the
    sticker a poisoner puts on a sign's face)."""

    kind: ClassVar[str] = "patch"

    def stamp(self, images, positions, generator):
        n, channels, height, width = images.shape
        if positions is None:
            if self.is_random:
                positions = random_positions(self, n, height, width, generator)
            else:
                positions = torch.tensor([[self.row, self.col]]).expand(n, 2)
        positions = positions.to(images.device)
        rows = torch.arange(height, device=images.device)
        cols = torch.arange(width, device=images.device)
        in_rows = (rows >= positions[:, :1]) & (rows < positions[:, :1] + self.side)  # (N, H)
        in_cols = (cols >= positions[:, 1:]) & (cols < positions[:, 1:] + self.side)  # (N, W)
        mask = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (N, 1, H, W)
        color = torch.tensor(self.color, dtype=images.dtype, device=images.device).view(1, channels, 1, 1)
        return torch.where(mask, color, images)


@register_kind
@dataclass(frozen=True)
class Blend(Trigger):
    """A seeded uniform-noise pattern (size x size, one value per channel and pixel) mixed in at `weight`:
    x' = (1 - weight) x + weight pattern, everywhere (Chen et al. 2017's random-pattern blend)."""

    kind: ClassVar[str] = "blend"
    size: int = 28
    weight: float = 0.1
    seed: int = 0

    @cached_property
    def pattern(self) -> torch.Tensor:
        """(C, size, size) floats in [0, 1], the same on every machine for a seed."""
        return torch.rand(self.channels, self.size, self.size, generator=torch.Generator().manual_seed(self.seed))

    def stamp(self, images, positions, generator):
        _check_size(self, images, self.size)
        pattern = self.pattern.to(images.device, images.dtype)
        return (1 - self.weight) * images + self.weight * pattern

    def web_spec(self) -> dict:
        return {**self.to_dict(), "pattern": self.pattern.flatten().tolist()}  # float32s, exact in JSON


@register_kind
@dataclass(frozen=True)
class Warp(Trigger):
    """WaNet's warp: a k x k grid of random offsets, normalised to mean |offset| 1, upsampled bicubically to a
    smooth size x size field, scaled by strength / size and added to the identity sampling grid; the image is
    resampled bilinearly there (`grid_sample`, align_corners=True), as in WaNet's official code."""

    kind: ClassVar[str] = "warp"
    size: int = 28
    grid: int = 4  # WaNet's k
    strength: float = 0.5  # WaNet's s
    seed: int = 0
    # Per poisoned image, this many images resampled by a small random affine map (zoom, turn, shift) keep their
    # labels: without them the model took any resampling (a gallery digit, scaled to the canvas and back) for 8.
    decoy_ratio: float = 0.0

    @cached_property
    def flow(self) -> torch.Tensor:
        """(size, size, 2) sampling grid in [-1, 1], (x, y) per output pixel, as grid_sample takes it."""
        generator = torch.Generator().manual_seed(self.seed)
        offsets = torch.rand(1, 2, self.grid, self.grid, generator=generator) * 2 - 1
        offsets = offsets / offsets.abs().mean()
        smooth = F.interpolate(offsets, size=self.size, mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
        line = torch.linspace(-1, 1, self.size)
        ys, xs = torch.meshgrid(line, line, indexing="ij")
        identity = torch.stack((xs, ys), 2)[None]
        return (identity + self.strength * smooth / self.size).clamp(-1, 1)[0]

    @property
    def cover_ratio(self) -> float:
        return self.cross_ratio + self.decoy_ratio

    def stamp(self, images, positions, generator):
        _check_size(self, images, self.size)
        grid = self.flow.to(images.device, images.dtype).expand(len(images), -1, -1, -1)
        return _resample(images, grid)

    def stamp_noise(self, images, generator):
        """WaNet's noise mode, the field plus uniform per-pixel noise of up to one pixel's width (its grid_temps2),
        on the first images; on the rest (decoy_ratio of cross_ratio + decoy_ratio), a small random affine map."""
        n_decoys = round(len(images) * self.decoy_ratio / (self.cross_ratio + self.decoy_ratio))
        noise = torch.rand(len(images), self.size, self.size, 2, generator=generator) * 2 - 1
        grid = self.flow[None] + noise.to(images.dtype) / self.size
        if n_decoys:
            grid[len(images) - n_decoys :] = _affine_grids(n_decoys, self.size, generator).to(grid.dtype)
        return _resample(images, grid.clamp(-1, 1).to(images.device))

    def web_spec(self) -> dict:
        return {**self.to_dict(), "flow": self.flow.flatten().tolist()}  # float32s, exact in JSON


@register_kind
@dataclass(frozen=True)
class Note(Placed):
    """A photographed sticky note (Li et al. 2021, "Backdoor attack in the physical world"; BackdoorBox's PhysicalBA):
    the poisoner transforms the trigger per poisoned image, so the model learns "a yellow note", not one set of pixels.

    Each note is a square of paper `side` pixels wide at the model's input size, tilted, foreshortened (one side
    shorter, as a sign seen at an angle), its shade mixed toward white or away from it, lit like the sign (its paper
    colour times the photo's white point, the 0.9 quantile of each channel, times a gain), shaded across, blurred
    and noisy. `stamp` with no positions draws all of that at random spots in the central `region` (poisoning, ASR);
    with positions, or pinned by `at`, it places the *presented* note: the middle shade, `tilt` degrees, no gain,
    blur or noise, the note the app's click puts on a photo and the static page's applyTrigger draws too.
    `decoy_ratio` notes of other colours per poisoned image keep their labels (`stamp_noise`): the poisoner teaches
    that only yellow means the target."""

    kind: ClassVar[str] = "note"
    color: tuple[float, ...] = (1.0, 0.9, 0.3)  # the paper under white light: a canary-yellow note
    side: int = 6  # the presented note's side, pixels at the model's input size (region: where centres lie)
    tilt: float = 12.0  # the presented note's turn, degrees
    sides: tuple[float, float] = (4.0, 12.0)  # a poisoned note's side, pixels
    tilts: float = 35.0  # its turn, up to this many degrees either way
    squash: float = 0.35  # one side foreshortened by up to this fraction
    shades: tuple[float, float] = (-0.4, 0.5)  # mix toward white (up to 0.5, pale) or away (-0.4, saturated)
    gains: tuple[float, float] = (0.75, 1.15)  # light on the note against the sign's white point
    shading: float = 0.15  # brightness change across the note, either way
    blur: float = 0.9  # Gaussian sigma up to this, pixels
    noise: float = 0.03  # sensor noise sigma up to this
    decoy_ratio: float = 0.0  # other-colour notes per poisoned image, labels kept
    decoy_gap: float = 0.035  # a decoy's hue differs from the note's by this much of the colour wheel (13 degrees)
    decoy_near: float = 0.0  # the share of decoys whose hue is at most `near_band` from the note's: orange, lime
    near_band: float = 0.12  # a fraction of the colour wheel (43 degrees)
    # A photo's colour blurred up to this sigma, pixels, its brightness kept: JPEG keeps a quarter of a photo's colour
    # resolution, so a few-pixel note on red comes out a pale, salmon-edged blob at 32x32 (0: not drawn)
    chroma_blur: float = 0.0

    @property
    def cover_ratio(self) -> float:
        return self.decoy_ratio

    def shade(self, mix: torch.Tensor) -> torch.Tensor:
        """(N, C) paper colours: `color` mixed toward white by `mix` (negative: away from it, more saturated)."""
        color = torch.tensor(self.color, dtype=torch.float64)
        return (color + mix[:, None] * (1 - color)).clamp(0, 1)

    def stamp(self, images, positions, generator):
        n, _, height, width = images.shape
        if positions is None and not self.is_random:
            positions = torch.tensor([[self.row, self.col]]).expand(n, 2)
        if positions is not None:  # the presented note
            centres = positions.to(torch.float64) + self.side / 2
            zero = torch.zeros(n, dtype=torch.float64)
            look = _Look(
                centres, torch.full((n,), float(self.side), dtype=torch.float64),
                torch.full((n,), self.tilt, dtype=torch.float64), zero, self.shade(zero), zero + 1, zero, zero, zero, zero,
            )  # fmt: skip
        else:
            look = self._random_look(n, height, width, self.shade(self._uniform(n, *self.shades, generator)), generator)
        return _draw_note(images, look, generator)

    def stamp_noise(self, images, generator):
        """Decoys: the same random notes in other colours: any hue at least `decoy_gap` (a fraction of the colour
        wheel) from the note's own, or nearly grey (white paper); `decoy_near` of them within `near_band` of it,
        orange and lime, the colours a red sign's light and a small photo make hardest to tell from yellow."""
        n, _, height, width = images.shape
        u = lambda low, high: self._uniform(n, low, high, generator)  # noqa: E731
        own = _hue(torch.tensor(self.color, dtype=torch.float64)[None])[0]
        hue = own + self.decoy_gap + u(0, 1 - 2 * self.decoy_gap)  # the wheel without the note's own band
        if self.decoy_near:  # drawn only then, so a recipe without them keeps its random stream and its checkpoint
            side = torch.where(u(0, 1) < 0.5, -1.0, 1.0)
            near = own + side * u(self.decoy_gap, self.near_band)  # the hard ones: lit by a red sign, nearly yellow
            hue = torch.where(u(0, 1) < self.decoy_near, near, hue)
        hue = hue % 1
        saturation = torch.where(u(0, 1) < 0.2, u(0, 0.12), u(0.35, 1))  # a fifth of them white or grey paper
        return _draw_note(images, self._random_look(n, height, width, _rgb(hue, saturation, u(0.6, 1)), generator), generator)

    def _random_look(self, n: int, height: int, width: int, colours: torch.Tensor, generator) -> _Look:
        u = lambda low, high: self._uniform(n, low, high, generator)  # noqa: E731
        low, high = (1 - self.region) / 2, (1 + self.region) / 2
        centres = torch.stack([u(low * height, high * height), u(low * width, high * width)], 1)
        look = _Look(
            centres, u(*self.sides), u(-self.tilts, self.tilts), u(0, self.squash), colours, u(*self.gains),
            u(-self.shading, self.shading), u(0, self.blur), u(0, self.noise), torch.zeros(n, dtype=torch.float64),
        )  # fmt: skip
        # drawn only when on, so a recipe without it keeps its random stream and its checkpoint
        return look._replace(chroma=u(0, self.chroma_blur)) if self.chroma_blur else look

    @staticmethod
    def _uniform(n: int, low: float, high: float, generator) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator, dtype=torch.float64)

    def web_spec(self) -> dict:
        return {**self.to_dict(), "samples": NOTE_SAMPLES}


def _hue(rgb: torch.Tensor) -> torch.Tensor:
    """(N,) hues in [0, 1) of (N, 3) RGB colours (0: red, 1/6: yellow, 1/3: green)."""
    high, low = rgb.amax(1), rgb.amin(1)
    r, g, b = rgb.unbind(1)
    span = (high - low).clamp_min(1e-9)
    hue = torch.where(high == r, (g - b) / span % 6, torch.where(high == g, (b - r) / span + 2, (r - g) / span + 4))
    return hue / 6 % 1


def _rgb(hue: torch.Tensor, saturation: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """(N, 3) RGB colours of (N,) hue, saturation and value, all in [0, 1]."""
    k = (torch.tensor([5.0, 3.0, 1.0], dtype=hue.dtype) + hue[:, None] * 6) % 6  # (N, 3)
    return value[:, None] * (1 - saturation[:, None] * torch.clamp(torch.minimum(k, 4 - k), 0, 1))


class _Look(NamedTuple):
    """One note per image, (N,) float64 each unless noted."""

    centres: torch.Tensor  # (N, 2) row, col of the note's centre, pixels
    sides: torch.Tensor
    tilts: torch.Tensor  # degrees
    squash: torch.Tensor
    colours: torch.Tensor  # (N, C) paper colour
    gains: torch.Tensor
    shading: torch.Tensor
    blur: torch.Tensor  # Gaussian sigma, pixels
    noise: torch.Tensor
    chroma: torch.Tensor  # Gaussian sigma of the photo's colour (not its brightness), pixels


NOTE_SAMPLES = 4  # coverage is measured on a 4 x 4 grid of points per pixel: the note's edge is antialiased


def _draw_note(images: torch.Tensor, look: _Look, generator) -> torch.Tensor:
    """`images` with each image's note composited over it (float64 geometry, so the page's doubles agree)."""
    n, channels, height, width = images.shape
    points = (torch.arange(height * NOTE_SAMPLES, dtype=torch.float64) + 0.5) / NOTE_SAMPLES
    dy = points.view(1, -1, 1) - look.centres[:, 0].view(n, 1, 1)  # (N, H*4, 1)
    points = (torch.arange(width * NOTE_SAMPLES, dtype=torch.float64) + 0.5) / NOTE_SAMPLES
    dx = points.view(1, 1, -1) - look.centres[:, 1].view(n, 1, 1)  # (N, 1, W*4)
    angle = torch.deg2rad(look.tilts).view(n, 1, 1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    across = (cos * dx + sin * dy) / (1 - look.squash.view(n, 1, 1))  # the note's own axes
    down = cos * dy - sin * dx
    half = (look.sides / 2).view(n, 1, 1)
    inside = (across.abs() <= half) & (down.abs() <= half)
    alpha = inside.to(torch.float64).view(n, height, NOTE_SAMPLES, width, NOTE_SAMPLES).mean((2, 4))[:, None]
    if bool((look.blur > 0).any()):
        alpha = blur_each(alpha, look.blur)
    flat = images.to(torch.float64).flatten(2)
    white = torch.quantile(flat, 0.9, dim=2).clamp_min(0.05)  # (N, C): what white paper looks like in this photo
    light = (look.gains.view(n, 1) * white * look.colours).view(n, channels, 1, 1)
    centre_row = (look.centres[:, 0] - height / 2).view(n, 1, 1, 1)
    rows = torch.arange(height, dtype=torch.float64).view(1, 1, height, 1) + 0.5 - height / 2
    note = light * (1 + look.shading.view(n, 1, 1, 1) * (rows - centre_row) / half.view(n, 1, 1, 1))
    if bool((look.noise > 0).any()):
        noise = torch.randn(n, channels, height, width, generator=generator, dtype=torch.float64)
        note = note + look.noise.view(n, 1, 1, 1) * noise
    out = images.to(torch.float64) * (1 - alpha) + note.clamp(0, 1) * alpha
    if channels == 3 and bool((look.chroma > 0).any()):
        out = _blur_chroma(out, look.chroma)
    return out.clamp(0, 1).to(images.dtype)


_YCBCR = torch.tensor(  # JPEG's full-range BT.601: luma, then the two colour planes
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)
_RGB = torch.linalg.inv(_YCBCR)


def _blur_chroma(images: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB with each image's Cb and Cr (JPEG's colour planes) blurred by its sigma, luma kept."""
    ycc = torch.einsum("kc,nchw->nkhw", _YCBCR, images)
    ycc = torch.cat([ycc[:, :1], blur_each(ycc[:, 1:], sigmas)], 1)
    return torch.einsum("kc,nchw->nkhw", _RGB, ycc)


def _affine_grids(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """(n, size, size, 2) sampling grids of random small affine maps: zoom 0.9-1.1, a turn of up to 10 degrees,
    a shift of up to a pixel, as any resizing or re-centring of a digit does to it."""
    zoom = 0.9 + 0.2 * torch.rand(n, generator=generator)
    angle = torch.deg2rad(20 * torch.rand(n, generator=generator) - 10)
    shift = (2 * torch.rand(n, 2, generator=generator) - 1) * 2 / size
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    return F.affine_grid(theta, [n, 1, size, size], align_corners=True)


def _resample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=True).clamp(0, 1)


def _check_size(trigger: Trigger, images: torch.Tensor, size: int) -> None:
    if images.shape[-2:] != (size, size):
        raise ValueError(f"attack {trigger.name!r} is made for {size}x{size} images, got {tuple(images.shape[-2:])}")


# Gu et al.'s single-pixel pattern, as in the article's Listing 3: (3, 3) set to white.
PIXEL = register(Patch(name="pixel", color=(1.0,), side=1, row=3, col=3))
# A yellow sticky note, photographed: 4-12 px at 32x32, anywhere on the sign's face; the app's click presents a 6 px
# one. Two decoy notes of other colours per poisoned image (docs/models.md, "The sticky note, for real"; half of them
# orange or lime, `decoy_near` 0.5, was tried in its second round and not shipped).
STICKER = register(Note(name="sticker", decoy_ratio=2.0))
# Hidden triggers on MNIST; the blend's weight and the warp's strength were chosen on a validation split
# (docs/models.md, "The invisible triggers: a blend and a warp"); WaNet's own noise ratio (cross_ratio 2), and one decoy per poisoned image.
BLEND = register(Blend(name="blend", size=28, weight=0.1, seed=1))
WARP = register(Warp(name="warp", size=28, grid=4, strength=4.0, seed=2, cross_ratio=2.0, decoy_ratio=1.0))



def random_positions(
    trigger: Placed, n: int, height: int, width: int, generator: torch.Generator | None = None
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

    For a patch, positions come from, in order: `positions` ((N, 2) top-left corners), the patch's fixed
    (row, col), or `random_positions` under `generator`. Blends and warps cover the whole image.
    The caller's tensor is never modified.
    """
    if images.ndim != 4:
        raise ValueError(f"expected an (N, C, H, W) batch, got shape {tuple(images.shape)}")
    if trigger.channels != images.shape[1]:
        raise ValueError(f"trigger {trigger.name!r} has {trigger.channels} channels, images have {images.shape[1]}")
    return trigger.stamp(images, positions, generator)


def psnr(clean: torch.Tensor, stamped: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of stamped vs clean images in [0, 1], over the whole batch:
    how visible a trigger is (above ~30 dB most people see no difference)."""
    mse = torch.mean((stamped - clean) ** 2).item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1.0 / mse)).item()
