"""Property-based tests: any image size, mode and content gives a valid model input or a clear InputError."""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from backdoor.preprocess import InputError, digit_from_drawing, load_image, resize_sign
from backdoor.triggers import Patch, apply_trigger

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def rgba_drawings(draw) -> np.ndarray:
    height, width = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    kind = draw(st.sampled_from(["noise", "blank", "block"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    image = np.zeros((height, width, 4), np.uint8)
    if kind == "block":
        r, c = rng.integers(0, height), rng.integers(0, width)
        image[r : r + rng.integers(1, 60), c : c + rng.integers(1, 60)] = (0, 0, 0, 255)
    return image


@FAST
@given(rgba_drawings())
def test_any_drawing_gives_none_a_valid_digit_or_a_clear_error(drawing):
    try:
        x = digit_from_drawing(drawing)
    except InputError as err:
        assert "draw the digit bigger" in str(err)  # a blob: strokes too thick for its size
        return
    if x is not None:
        assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
        assert 0.0 <= x.min() and x.max() <= 1.0 and torch.isfinite(x).all()


@FAST
@given(
    mode=st.sampled_from(["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]),
    size=st.tuples(st.integers(1, 120), st.integers(1, 120)),
    seed=st.integers(0, 2**32 - 1),
    fmt=st.sampled_from(["PNG", "TIFF", "GIF", "BMP", "WEBP", "JPEG"]),
    cut=st.sampled_from([None, 0.5, 0.1]),
)
def test_any_upload_gives_a_model_sized_rgb_input_or_a_clear_error(tmp_path_factory, mode, size, seed, fmt, cut):
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():  # Pillow deprecates *writing* 32-bit "I" PNGs; reading them, as we test, stays
            warnings.simplefilter("ignore", DeprecationWarning)
            image.save(buffer, fmt)
    except (OSError, ValueError, KeyError):
        return  # PIL cannot write this mode in this format: nothing to upload
    data = buffer.getvalue()
    if cut is not None:
        data = data[: max(1, int(len(data) * cut))]  # a truncated upload
    path = tmp_path_factory.mktemp("upload") / f"x.{fmt.lower()}"
    path.write_bytes(data)
    try:
        loaded = load_image(str(path))
    except InputError as err:
        assert str(err)  # refused, with a message for the user
        return
    out = resize_sign(loaded, 32)
    assert loaded.mode == "RGB" and out.shape == (32, 32, 3) and out.dtype == np.uint8


@FAST
@given(
    n=st.integers(1, 4),
    channels=st.sampled_from([1, 3]),
    height=st.integers(4, 40),
    width=st.integers(4, 40),
    side=st.integers(1, 4),
    data=st.data(),
)
def test_a_stamp_changes_only_its_square_and_stays_in_range(n, channels, height, width, side, data):
    row = data.draw(st.integers(0, height - side))
    col = data.draw(st.integers(0, width - side))
    color = tuple(data.draw(st.floats(0, 1)) for _ in range(channels))
    images = torch.rand(n, channels, height, width)
    out = apply_trigger(images, Patch(name="t", color=color, side=side, row=row, col=col))
    outside = torch.ones(height, width, dtype=torch.bool)
    outside[row : row + side, col : col + side] = False
    assert torch.equal(out[:, :, outside], images[:, :, outside])
    assert torch.allclose(out[:, :, ~outside], torch.tensor(color).view(1, -1, 1))
    assert 0 <= out.min() and out.max() <= 1
