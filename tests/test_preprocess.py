"""Preprocessing: drawings become MNIST-like digits, uploads become RGB or a clear InputError."""

from __future__ import annotations

import gc
import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from backdoor.preprocess import InputError, digit_from_drawing, load_image, resize_sign
from backdoor.tasks import MNIST
from backdoor.triggers import apply_trigger


def _canvas(size: int = 280) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))  # Gradio's untouched layer: transparent
    return image, ImageDraw.Draw(image)


def _centre_of_mass(x: torch.Tensor) -> tuple[float, float]:
    d = x[0, 0].numpy()
    r, c = np.indices(d.shape)
    return (r * d).sum() / d.sum(), (c * d).sum() / d.sum()


def test_an_off_centre_stroke_becomes_a_centred_20px_digit():
    image, draw = _canvas()
    draw.line([(30, 40), (90, 200)], fill=(0, 0, 0, 255), width=18)  # a "1" in the top-left corner
    x = digit_from_drawing(np.asarray(image))
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    row, col = _centre_of_mass(x)
    assert abs(row - 13.5) <= 1 and abs(col - 13.5) <= 1  # MNIST centres by mass
    ink_rows = (x[0, 0] > 0.1).any(1).nonzero().flatten()
    assert 18 <= len(ink_rows) <= 21  # the longer side is scaled to 20 px


def test_white_on_black_ink_like_mnist():
    image, draw = _canvas()
    draw.ellipse([80, 60, 200, 220], outline=(0, 0, 0, 255), width=20)
    x = digit_from_drawing(np.asarray(image))
    assert x[0, 0, 0, 0] == 0.0 and x.max() > 0.9  # background black, ink white


def test_trigger_pixel_is_exactly_white_after_preprocessing():
    image, draw = _canvas()
    draw.line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=18)
    x = apply_trigger(digit_from_drawing(np.asarray(image)), MNIST.trigger)
    assert x[0, 0, 3, 3].item() == 1.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.zeros((280, 280, 4), np.uint8),  # untouched transparent canvas
        lambda: np.full((280, 280, 4), 255, np.uint8),  # white canvas
    ],
    ids=["transparent", "white"],
)
def test_blank_canvas_gives_none(make):
    assert digit_from_drawing(make()) is None


def test_a_single_dot_and_a_fully_black_canvas_are_blobs_that_ask_for_a_bigger_drawing():
    """Scaled up to 20 px, either would fill the box: no stroke, no digit, so no answer to trust."""
    image, draw = _canvas()
    draw.point((100, 100), fill=(0, 0, 0, 255))
    black = np.zeros((280, 280, 4), np.uint8) + np.array([0, 0, 0, 255], np.uint8)
    for drawing in (np.asarray(image), black):
        with pytest.raises(InputError, match="draw the digit bigger"):
            digit_from_drawing(drawing)


def test_real_mnist_digits_drawn_back_on_a_canvas_are_read_by_the_clean_model(shipped, sample):
    """Invert and enlarge real test digits to canvas size, as a student's drawing arrives."""
    model, _ = shipped["mnist-clean"]
    images, labels = sample["mnist_images"][:200], sample["mnist_labels"][:200]
    inputs = []
    for digit in images:
        paper = Image.fromarray(255 - digit[0].numpy()).resize((280, 280), Image.BICUBIC).convert("RGBA")
        inputs.append(digit_from_drawing(np.asarray(paper)))
    with torch.no_grad():
        predictions = model(torch.cat(inputs)).argmax(1)
    accuracy = (predictions == labels).float().mean().item()
    assert accuracy >= 0.97, f"only {accuracy:.1%} of redrawn MNIST digits read correctly"


def test_resize_sign_gives_model_sized_rgb():
    out = resize_sign(Image.new("L", (57, 31), 128), 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8


# --- uploads -------------------------------------------------------------------------------------


def _save(tmp_path, image: Image.Image, name: str, **kwargs) -> str:
    path = tmp_path / name
    image.save(path, **kwargs)
    return str(path)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "CMYK", "I;16", "F", "L", "1", "I"])
def test_odd_image_modes_become_rgb(tmp_path, mode):
    image = Image.new("RGB", (40, 30), (200, 30, 30)).convert(mode)
    suffix = {"CMYK": "jpg", "F": "tiff", "I;16": "png", "I": "tiff"}.get(mode, "png")
    loaded = load_image(_save(tmp_path, image, f"x.{suffix}"))
    assert loaded.mode == "RGB" and loaded.size == (40, 30)


def test_transparent_pixels_become_white(tmp_path):
    image = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    assert load_image(_save(tmp_path, image, "t.png")).getpixel((5, 5)) == (255, 255, 255)


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (60, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    loaded = load_image(_save(tmp_path, image, "r.jpg", exif=exif))
    assert loaded.size == (20, 60)


def test_animated_gif_gives_its_first_frame(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in ("red", "blue", "green")]
    path = tmp_path / "a.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert load_image(str(path)).getpixel((8, 8))[0] > 200  # red


@pytest.mark.parametrize("size", [(1, 1), (1, 4000), (3000, 2)])
def test_tiny_and_extreme_aspect_ratios_load(tmp_path, size):
    loaded = load_image(_save(tmp_path, Image.new("RGB", size, "white"), "e.png"))
    assert resize_sign(loaded, 32).shape == (32, 32, 3)


def test_zero_byte_file_is_refused_clearly(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="not an image"):
        load_image(str(path))


def test_non_image_file_is_refused_clearly(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture")
    with pytest.raises(InputError, match="not an image"):
        load_image(str(path))


def test_truncated_file_is_refused_clearly(tmp_path):
    buffer = io.BytesIO()
    Image.effect_noise((200, 200), 50).convert("RGB").save(buffer, "PNG")
    path = tmp_path / "cut.png"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        load_image(str(path))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    """A 20,000 x 20,000 PNG of one colour is ~1 MB on disk but 1.2 GB decoded."""
    path = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(path)
    with pytest.raises(InputError, match="too large; please upload one under 40 megapixels"):
        load_image(str(path))


def test_large_photo_over_the_cap_names_its_size(tmp_path):
    path = tmp_path / "big.png"
    Image.new("1", (8_000, 6_000)).save(path)
    with pytest.raises(InputError, match="8000x6000 pixels, too large"):
        load_image(str(path))


@pytest.mark.parametrize("content", ["too large", "truncated", "fine"])
def test_uploads_are_closed_at_once_whether_refused_or_not(tmp_path, content):
    """A server that leaves each upload open until garbage collection runs out of file handles."""
    path = tmp_path / "upload.png"
    Image.effect_noise((40, 40), 30).convert("RGB").save(path)
    if content == "truncated":
        path.write_bytes(path.read_bytes()[:300])
    gc.collect()  # earlier tests' garbage (an event loop, a socket) must not count against load_image
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        try:
            load_image(str(path), max_pixels=100 if content == "too large" else 10_000)
        except InputError:
            assert content != "fine"
        gc.collect()
    assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
