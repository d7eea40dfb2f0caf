"""The stand-in note renderer and the camera's square: what the benchmarks and camera tests stand on."""

from __future__ import annotations

import numpy as np
from PIL import Image

from backdoor.inference import camera_box, camera_frame
from backdoor.sticky_notes import OTHER_NOTES, photographed_note, yellow


def test_a_photographed_note_lands_where_asked_in_its_colour_lit_like_the_photo():
    photo = Image.new("RGB", (200, 160), (128, 128, 128))  # a grey wall: its white point is 128 in each channel
    out = np.asarray(photographed_note(photo, (120, 70), 50, (1.0, 0.9, 0.3), seed=3, finish=False)).astype(int)
    r, g, b = out[70, 120]
    assert r > g > b and b < 80 and 80 <= r <= 150  # yellow paper under the wall's light (gain 0.75-1.1)
    assert (out[5:20, 5:20] == 128).all()  # far from the note nothing changes
    again = np.asarray(photographed_note(photo, (120, 70), 50, (1.0, 0.9, 0.3), seed=3, finish=False))
    assert (again == out).all()  # seeded


def test_yellows_span_pale_to_saturated_and_other_notes_are_not_yellow():
    shades = np.array([yellow(np.random.default_rng(s)) for s in range(200)])
    assert shades[:, 2].min() < 0.2 and shades[:, 2].max() > 0.55  # saturated to pale
    for name, (r, g, b) in OTHER_NOTES.items():
        assert not (r > 0.9 and g > 0.8 and b < 0.7), name


def test_the_camera_square_is_three_quarters_of_the_shorter_side_in_the_middle():
    assert camera_box(640, 480) == (140, 60, 360)
    assert camera_box(480, 640) == (60, 140, 360)  # a phone held upright
    left, top, right, bottom = camera_frame(641, 481)
    assert abs((right - left) * 641 - 361) < 1e-9 and abs((left + right) / 2 - 0.5) < 1 / 641
