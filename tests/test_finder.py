"""The sign finder: it frames the sign in stand-in street photos, leaves close-ups whole, and stays cheap and
safe on photos of any shape."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from PIL import Image

from backdoor.finder import find_sign, frame_text, shrink
from backdoor.inference import parse_frame
from tests.conftest import ROOT

STREETS = ROOT / "benchmarks" / "data" / "streets"


@pytest.fixture(scope="module")
def clean_signs(lab):
    return lab.models["signs-clean"]


def test_the_finder_frames_the_sign_in_street_photos(clean_signs):
    """The 12 committed stand-in photos (GTSRB test signs at 10-56% of a 640x480 street): the middle of the frame
    it picks lies on the sign. Measured 12 of 12 with the shipped model (10 with the first finder); 11 required."""
    index = json.loads((STREETS / "index.json").read_text())
    on_sign = 0
    for item in index:
        frame = find_sign(Image.open(STREETS / item["file"]).convert("RGB"), clean_signs) or (0, 0, 1, 1)
        x, y = (frame[0] + frame[2]) / 2, (frame[1] + frame[3]) / 2
        left, top, right, bottom = item["frame"]
        on_sign += left <= x <= right and top <= y <= bottom
    assert on_sign >= 11, on_sign


def test_a_close_up_stays_whole(clean_signs):
    for path in sorted((ROOT / "examples" / "signs").glob("*.png")):
        assert find_sign(Image.open(path).convert("RGB"), clean_signs) is None, path.name


@pytest.mark.parametrize("size", [(1, 1), (31, 200), (40, 50), (10_000, 40), (40, 1_000_000)])
def test_any_shape_is_safe_and_quick(clean_signs, size):
    """Long thin photos are not searched (a 40 x 1,000,000 photo would be 16 million windows); tiny ones hold no window."""
    photo = Image.new("RGB", size, (200, 30, 30))
    started = time.perf_counter()
    frame = find_sign(photo, clean_signs)
    assert time.perf_counter() - started < 5
    assert frame is None or all(0 <= v <= 1 for v in frame)


def test_the_shrink_averages_blocks_and_the_frame_text_round_trips():
    pixels = np.arange(480 * 640 * 3, dtype=np.uint32).reshape(480, 640, 3).astype(np.uint8)
    small, factor = shrink(pixels)
    assert factor == 2 and small.shape == (240, 320, 3)
    assert small[0, 0, 0] == round(pixels[:2, :2, 0].astype(float).mean() + 1e-9)
    rng = np.random.default_rng(0)
    for _ in range(100):
        left, top = rng.random(2) * 0.5
        frame = (left, top, left + 0.4, top + 0.4)
        assert parse_frame(frame_text(frame)) == frame
